"""The user's key remapping file, ``keymap.toml`` beside the srcnet-tui config, read and checked.

The TUI gives every binding a stable id (``sessions.delete``, ``logs.follow`` ...), as posting
does; the file is a flat table of ``id = "keys"`` (a comma separates alternatives), for example::

    "sessions.delete" = "ctrl+x"
    "app.quit" = "q,ctrl+q"

Reading it is core's job (a file format); applying it to the bindings is the TUI's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.settings import config_file

Keymap = dict[str, str]


def keymap_file() -> Path:
    """Where the keymap lives: next to ``config.toml`` (``$XDG_CONFIG_HOME/srcnet-tui/keymap.toml``)."""
    return config_file().parent / "keymap.toml"


def load_keymap(path: Path | None = None) -> Keymap:
    """Read the keymap file; a missing file is an empty keymap, a malformed one a one-line UsageError."""
    path = keymap_file() if path is None else path
    if not path.exists():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read keymap: {str(exc).splitlines()[0]}") from None
    table = table.get("keymap", table)
    bad = [key for key, value in table.items() if not isinstance(value, str)]
    if bad:
        raise UsageError(f'{path}: {bad[0]}: keys must be a string such as "ctrl+x"')
    return dict(table)


def unknown_ids_problem(keymap: Keymap, known: Iterable[str], path: Path | None = None) -> str | None:
    """One line naming the keymap's ids that match no binding (a misspelt id would otherwise be
    silently ignored), or None when every id is known."""
    unknown = sorted(set(keymap) - set(known))
    if not unknown:
        return None
    path = keymap_file() if path is None else path
    names = ", ".join(f'"{name}"' for name in unknown)
    return f"{path}: unknown binding id{'s' if len(unknown) > 1 else ''} {names} (? lists every id)"
