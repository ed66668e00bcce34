"""A session log that follows new output, k9s/toolong style, with a bounded number of lines, searchable.

Skaha serves a session's whole log on every request (no offset, no follow), so the follower keeps
the offset of what it has already shown and appends only the rest (:mod:`srcnet_tui.core.logtail`, shared with
the CLI's ``logs --follow``). A trailing line without its newline waits for the next fetch, unless the session has
finished. Progress-bar redraws (carriage returns, backspaces) are resolved as a terminal would show them and
control characters dropped (:func:`printable`); colour codes (SGR) are kept and drawn as colours. The view
keeps at most ``max_lines`` lines (the oldest drop out). Scrolling up turns following off; ``end`` (or the
pane's ``s``) turns it back on and jumps to the bottom. :meth:`LogView.find` highlights every match of a
search and moves between them.
"""

from __future__ import annotations

import re
from typing import Self

from rich.style import Style
from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Log

from srcnet_tui.core.logtail import new_text

DEFAULT_MAX_LINES = 10_000
_TERMINAL_CODES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])|[\x00-\x08\x0b-\x1f\x7f]")
"""Colour and cursor escapes, and control characters, that programs write for a terminal."""
_TO_FIRST_COLUMN = re.compile(r"\x1b\[1?G")
"""Cursor to column 1 (PyBDSF's progress bar redraws so): a carriage return."""
_COLOUR = re.compile(r"\x1b\[[0-9;:]*m")
"""SGR: the escapes that only colour text, which the view draws."""
MATCH_STYLE = Style(reverse=True, color="yellow")
CURRENT_MATCH_STYLE = Style(reverse=True, bold=True, color="magenta")


def printable(line: str) -> str:
    """A log line as a terminal would leave it: what follows the last carriage return (or move to the
    first column) and what backspaces did not erase (progress bars redraw themselves), without control
    characters or escapes other than colours."""
    if line.isprintable():  # the common case, checked in C
        return line
    line = _TO_FIRST_COLUMN.sub("\r", line)
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
    return _TERMINAL_CODES.sub(_keep_colour, line)


def _keep_colour(match: re.Match[str]) -> str:
    return match.group() if _COLOUR.fullmatch(match.group()) else ""


def plain(line: str) -> str:
    """A line without its colour codes (what search, copy and save see)."""
    return _COLOUR.sub("", line) if "\x1b" in line else line


def take_new_lines(text: str, offset: int, final: bool = False) -> tuple[list[str], int]:
    """The complete lines of ``text`` after ``offset``, as a terminal shows them, and the new offset."""
    chunk, end = new_text(text, offset, final)
    if not chunk:
        return [], end
    return [printable(line) for line in chunk.removesuffix("\n").split("\n")], end


class LogView(Log):
    """A :class:`~textual.widgets.Log` with a ``follow`` switch that user scrolling turns off, colours, and search."""

    follow: reactive[bool] = reactive(True)
    """Keep the newest line in view as lines arrive."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, **kwargs) -> None:
        super().__init__(max_lines=max_lines, highlight=False, auto_scroll=True, **kwargs)
        self.search = ""
        """The text searched for (lower case; empty: no search)."""
        self.matches: list[int] = []
        """Lines holding the search text, top to bottom."""
        self.current_match: int | None = None
        """Index into :attr:`matches` of the match shown (drawn apart from the others)."""
        self._match_set: set[int] = set()

    @property
    def lines(self) -> list[str]:
        """The lines as text, without their colour codes."""
        return [plain(line) for line in self._lines]

    @classmethod
    def _process_line(cls, line: str) -> str:
        """Widths are those of the text, not of its colour codes."""
        return super()._process_line(plain(line))

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        """A line with its colours and search matches; Log's own drawing for the rest (the common case)."""
        raw = self._lines[y]
        if "\x1b" not in raw and not (self.search and y in self._match_set):
            return super()._render_line_strip(y, rich_style)
        cached = self._render_line_cache.get(y)
        if cached is not None and self.text_selection is None:
            return cached
        text = Text.from_ansi(raw.expandtabs(), no_wrap=True) if "\x1b" in raw else Text(raw.expandtabs(), no_wrap=True)
        text.stylize_before(rich_style)
        self._highlight_matches(text, y)
        strip = Strip(text.render(self.app.console), text.cell_len)
        if self.text_selection is None:
            self._render_line_cache[y] = strip
        return strip

    def _highlight_matches(self, text: Text, y: int) -> None:
        if not self.search or y not in self._match_set:
            return
        is_current = self.current_match is not None and self.matches[self.current_match] == y
        style = CURRENT_MATCH_STYLE if is_current else MATCH_STYLE
        lowered, size = text.plain.lower(), len(self.search)
        start = lowered.find(self.search)
        while start >= 0:
            text.stylize(style, start, start + size)
            start = lowered.find(self.search, start + size)

    def find(self, search: str) -> int:
        """Highlight every line holding ``search`` (any case) and show the first one from the top of
        the view down; how many lines match."""
        self.search = search.lower()
        self._collect_matches()
        top = int(self.scroll_y)
        self.current_match = next((i for i, y in enumerate(self.matches) if y >= top), 0) if self.matches else None
        self._show_match()
        return len(self.matches)

    def next_match(self, step: int = 1) -> None:
        """The next match down (``step`` -1: up), wrapping around; lines that arrived since are searched too."""
        if not self.search:
            return
        here = self.matches[self.current_match] if self.current_match is not None else int(self.scroll_y)
        self._collect_matches()
        if not self.matches:
            self.current_match = None
        elif step > 0:
            self.current_match = next((i for i, y in enumerate(self.matches) if y > here), 0)
        else:
            before = [i for i, y in enumerate(self.matches) if y < here]
            self.current_match = before[-1] if before else len(self.matches) - 1
        self._show_match()

    def _collect_matches(self) -> None:
        wanted = self.search
        self.matches = [y for y, line in enumerate(self._lines) if wanted in plain(line).lower()] if wanted else []
        self._match_set = set(self.matches)

    def _show_match(self) -> None:
        """Redraw the highlights and scroll the current match to the middle of the view (following stops:
        the user is reading)."""
        self._render_line_cache.clear()
        if self.current_match is not None:
            self.follow = False
            line = self.matches[self.current_match]
            self.scroll_to(y=max(0, line - self.size.height // 2), animate=False)
        self.refresh()

    def clear(self) -> Self:
        self.search, self.matches, self._match_set, self.current_match = "", [], set(), None
        return super().clear()

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
