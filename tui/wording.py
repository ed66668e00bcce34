"""How the app's lines word counts and paths, the same in every pane."""

from __future__ import annotations

from pathlib import Path


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def shown_path(path: Path) -> str:
    """A path as short as it can be said: relative to the current folder when inside it, else
    ``~/...`` when inside the home folder."""
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        if path.is_relative_to(base):
            return prefix + str(path.relative_to(base))
    return str(path)
