"""A session log that follows new output, k9s/toolong style, with a bounded number of lines.

Skaha serves a session's whole log on every request (no offset, no follow), so the follower keeps
the offset of what it has already shown and appends only the rest (:mod:`srcnet_tui.core.logtail`, shared with
the CLI's ``logs --follow``). A trailing line without its newline waits for the next fetch, unless the session has
finished. Colour codes and progress-bar redraws are resolved as a terminal would show them
(:func:`printable`). The view keeps at most ``max_lines`` lines (the oldest drop out). Scrolling up turns
following off; ``end`` (or the pane's ``s``) turns it back on and jumps to the bottom.
"""

from __future__ import annotations

import re

from textual import events
from textual.reactive import reactive
from textual.widgets import Log

from srcnet_tui.core.logtail import new_text

DEFAULT_MAX_LINES = 10_000
_TERMINAL_CODES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])|[\x00-\x08\x0b-\x1f\x7f]")
"""Colour and cursor escapes, and control characters, that programs write for a terminal."""


def printable(line: str) -> str:
    """A log line as a terminal would leave it: what follows the last carriage return and what
    backspaces did not erase (progress bars redraw themselves), without colour codes or control
    characters."""
    if line.isprintable():  # the common case, checked in C
        return line
    if "\r" in line.rstrip("\r"):
        line = line.rsplit("\r", 1)[-1]
    if "\b" in line:
        kept: list[str] = []
        for char in line:
            if char != "\b":
                kept.append(char)
            elif kept:
                kept.pop()
        line = "".join(kept)
    return _TERMINAL_CODES.sub("", line)


def take_new_lines(text: str, offset: int, final: bool = False) -> tuple[list[str], int]:
    """The complete lines of ``text`` after ``offset``, as a terminal shows them, and the new offset."""
    chunk, end = new_text(text, offset, final)
    if not chunk:
        return [], end
    return [printable(line) for line in chunk.removesuffix("\n").split("\n")], end


class LogView(Log):
    """A :class:`~textual.widgets.Log` with a ``follow`` switch that user scrolling turns off."""

    follow: reactive[bool] = reactive(True)
    """Keep the newest line in view as lines arrive."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, **kwargs) -> None:
        super().__init__(max_lines=max_lines, highlight=False, auto_scroll=True, **kwargs)

    def watch_follow(self, follow: bool) -> None:
        self.auto_scroll = follow
        if follow:
            self.scroll_end(animate=False)

    def _stop_following(self) -> None:
        self.follow = False

    def action_scroll_up(self) -> None:
        self._stop_following()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._stop_following()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._stop_following()
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.follow = True
        super().action_scroll_end()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._stop_following()
        super()._on_mouse_scroll_up(event)
