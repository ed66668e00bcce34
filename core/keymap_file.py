"""The user's key remapping file, ``keymap.toml`` beside the srcnet-tui config, read and checked.

The TUI gives every binding a stable id (``sessions.delete``, ``logs.follow`` ...), as posting
does; the file is a flat table of ``id = "keys"`` (a comma separates alternatives), for example::

    "sessions.delete" = "ctrl+x"
    "app.quit" = "q,ctrl+q"

Reading it is core's job (a file format); applying it to the bindings is the TUI's.
"""

from __future__ import annotations

import tomllib
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
