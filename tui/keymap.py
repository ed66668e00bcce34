"""User key remapping: ``keymap.toml`` beside the srcnet-tui config maps binding ids to keys.

Every binding in the app carries a stable id (``sessions.delete``, ``logs.follow`` ...), as posting
does; the file is a flat table of ``id = "keys"`` (a comma separates alternatives), for example::

    "sessions.delete" = "ctrl+x"
    "app.quit" = "q,ctrl+q"

It is read once at start-up and handed to :meth:`textual.app.App.set_keymap`. The panes declare
their bindings with :func:`keys`, which gives each its id.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding

from core.errors import UsageError
from core.settings import config_file

Keymap = dict[str, str]


def keymap_file() -> Path:
    """Where the keymap lives: next to ``config.toml`` (``$XDG_CONFIG_HOME/srcnet-tui/keymap.toml``)."""
    return config_file().parent / "keymap.toml"


def load_keymap(path: Path | None = None) -> Keymap:
    """Read the keymap file; a missing file is an empty keymap, a malformed one a UsageError."""
    path = keymap_file() if path is None else path
    if not path.exists():
        return {}
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read keymap: {exc}") from None
    table = table.get("keymap", table)
    bad = [key for key, value in table.items() if not isinstance(value, str)]
    if bad:
        raise UsageError(f"{path}: {bad[0]}: keys must be a string such as \"ctrl+x\"")
    return dict(table)


def keys(scope: str, *rows: tuple) -> list[Binding]:
    """The bindings of one pane, each with the stable id ``scope.name`` that keymap.toml remaps it by.

    A row is ``(keys, action, description[, show[, name]])``: ``show`` (default True) puts it in the
    footer; ``name`` defaults to the action's (``this_run`` -> ``this-run``, ``sort('age')`` -> ``sort-age``).
    """
    bindings = []
    for key, action, description, *rest in rows:
        show = rest[0] if rest else True
        name = rest[1] if len(rest) > 1 else None
        bindings.append(Binding(key, action, description, show=show, id=f"{scope}.{name or binding_name(action)}"))
    return bindings


def binding_name(action: str) -> str:
    """``clear_marks`` -> ``clear-marks``, ``sort('name')`` -> ``sort-name``."""
    name, _, argument = action.partition("(")
    return "-".join(part for part in (name.replace("_", "-"), argument.rstrip(")").strip("'\"")) if part)
