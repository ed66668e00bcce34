"""Stable ids for the app's bindings, which ``keymap.toml`` remaps keys by.

Every binding in the app carries an id (``sessions.delete``, ``logs.follow`` ...), as posting
does. The panes declare their bindings with :func:`keys`, which gives each its id; the file itself
is read by :func:`srcnet_tui.core.keymap_file.load_keymap` and handed to :meth:`textual.app.App.set_keymap`.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType


def keys(scope: str, *rows: tuple, priority: tuple[str, ...] = ()) -> list[BindingType]:
    """The bindings of one pane, each with the stable id ``scope.name`` that keymap.toml remaps it by.

    A row is ``(keys, action, description[, show[, name]])``: ``show`` (default True) puts it in the
    footer; ``name`` defaults to the action's (``this_run`` -> ``this-run``, ``sort('age')`` -> ``sort-age``).
    The actions named in ``priority`` run as soon as the app reads their key, before the keys typed
    after it are handed to the focused widget: an action that moves the focus gets them all, even in
    a burst (the action raises ``SkipAction`` where the key should be typed instead).
    """
    bindings: list[BindingType] = []
    for key, action, description, *rest in rows:
        show = rest[0] if rest else True
        name = rest[1] if len(rest) > 1 else None
        binding_id = f"{scope}.{name or binding_name(action)}"
        bindings.append(Binding(key, action, description, show=show, id=binding_id, priority=action in priority))
    return bindings


def binding_name(action: str) -> str:
    """``clear_marks`` -> ``clear-marks``, ``sort('name')`` -> ``sort-name``."""
    name, _, argument = action.partition("(")
    return "-".join(part for part in (name.replace("_", "-"), argument.rstrip(")").strip("'\"")) if part)
