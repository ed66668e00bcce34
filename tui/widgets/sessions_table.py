"""The live sessions table: rows keyed by session id, changed cells updated in place.

A poll hands :meth:`SessionsTable.apply` the full list of sessions; the table renders each session
into plain cells and lets :class:`~srcnet_tui.tui.widgets.keyed_table.KeyedTable` change only the cells that
differ. The cursor, the scroll position, the marks, the filter and the sort survive every poll;
rows are re-sorted only when one arrives or the sort column changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich.text import Text

from srcnet_tui.core.skaha_rules import COMPLETED, FAILED, PENDING, RUNNING, TERMINATING
from srcnet_tui.tui.widgets.keyed_table import KeyedTable, SyncStats

COLUMNS = (
    ("mark", " "),
    ("name", "Name"),
    ("status", "Status"),
    ("age", "Age"),
    ("cpu", "Cores req/used"),
    ("ram", "RAM GB req/used"),
    ("id", "ID"),
    ("image", "Image"),
)
"""What matters first comes first: at 80 columns the name, status, age and cores are in view."""
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
STATUS_STYLES = {
    PENDING: "bold yellow",
    RUNNING: "bold green",
    COMPLETED: "blue",
    FAILED: "bold red",
    TERMINATING: "magenta",
}
STATUS_ORDER = {status: rank for rank, status in enumerate(STATUS_STYLES)}
MARK = "●"


def run_of(name: str) -> str:
    """The run a session belongs to: its name without the ``-N`` replica suffix."""
    return re.sub(r"-\d+$", "", name or "")


def replica_of(name: str) -> int:
    match = re.search(r"-(\d+)$", name or "")
    return int(match.group(1)) if match else 0


def format_age(start: datetime | None, now: datetime) -> str:
    """Age at the coarsest useful step, so that most rows do not change on every poll."""
    if start is None:
        return "-"
    seconds = max(0, int((now - start).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def format_amount(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_pair(requested: float | None, used: float | None, digits: int) -> str:
    return f"{format_amount(requested, 2)} / {format_amount(used, digits)}"


def short_image(image: str) -> str:
    """``images.canfar.net/skaha/sofia2:2.6`` -> ``skaha/sofia2:2.6``: the registry host says little."""
    parts = (image or "").split("/", 1)
    return parts[1] if len(parts) == 2 and "." in parts[0] else (image or "")


def render_cells(session: Any, now: datetime, marked: bool) -> tuple:
    """The cells of one session's row, as the table shows them."""
    return (
        MARK if marked else " ",
        session.name,
        Text(session.status, style=STATUS_STYLES.get(session.status, "")),
        format_age(session.start_time, now),
        format_pair(session.requested_cores, session.cores_in_use, 3),
        format_pair(session.requested_ram_gb, session.ram_in_use_gb, 2),
        session.id,
        short_image(session.image),
    )


def sort_key(column: str) -> Callable[[Any], Any]:
    """A key function over sessions for a column (numbers sort as numbers, statuses by lifecycle)."""
    keys: dict[str, Callable[[Any], Any]] = {
        "name": lambda s: (run_of(s.name), replica_of(s.name), s.name),
        "id": lambda s: s.id,
        "status": lambda s: (STATUS_ORDER.get(s.status, 99), s.name),
        "age": lambda s: (s.start_time is None, s.start_time.timestamp() if s.start_time else 0.0),
        "cpu": lambda s: (s.cores_in_use or 0.0, s.requested_cores or 0.0),
        "ram": lambda s: (s.ram_in_use_gb or 0.0, s.requested_ram_gb or 0.0),
        "image": lambda s: s.image or "",
        "mark": lambda s: s.name,
    }
    return keys[column]


def matches(session: Any, text: str) -> bool:
    """The ``/`` filter: ``run:NAME`` picks one run; anything else is a substring of name/id/status/image."""
    text = text.strip().lower()
    if not text:
        return True
    if text.startswith("run:"):
        return run_of(session.name).lower() == text[4:].strip()
    haystack = " ".join((session.name, session.id, session.status, session.image or "")).lower()
    return text in haystack


class SessionsTable(KeyedTable):
    """The sessions as rows; marks, filter and sort are its own state and survive every poll."""

    def __init__(self, clock: Callable[[], datetime], **kwargs) -> None:
        super().__init__(COLUMNS, **kwargs)
        self._clock = clock
        self.sessions: dict[str, Any] = {}
        """Every session of the last poll, visible or filtered out."""
        self.marks: set[str] = set()
        self.filter_text = ""
        self.sort_column = "name"
        self.sort_reverse = False

    @property
    def current_id(self) -> str | None:
        """The session id under the cursor, or None when the table is empty."""
        return self.current_key

    def selected_ids(self) -> list[str]:
        """The marked sessions that still exist, or else the one under the cursor."""
        marked = [sid for sid in self.sessions if sid in self.marks]
        if marked:
            return marked
        current = self.current_id
        return [current] if current else []

    def visible_rows(self) -> dict[str, tuple]:
        now = self._clock()
        return {s.id: render_cells(s, now, s.id in self.marks) for s in self.sessions.values() if matches(s, self.filter_text)}

    def apply(self, sessions: Iterable[Any]) -> SyncStats:
        """Show a new poll in place; re-sort only when a row arrived or the sort column changed."""
        self.sessions = {s.id: s for s in sessions}
        self.marks &= self.sessions.keys()
        first_fill = not self._shown
        stats = self.sync(self.visible_rows())
        if stats.added or self.sort_column in stats.columns:
            self._sort_rows(follow_cursor=not first_fill)
        return stats

    def _sort_rows(self, follow_cursor: bool = True) -> None:
        """Re-order the rows; the cursor stays on its session (or on the top row after the first fill)."""
        keep = self.current_id if follow_cursor else None
        key = sort_key(self.sort_column)
        self.sort("id", key=lambda sid: key(self.sessions[sid]), reverse=self.sort_reverse)
        if keep is None:
            self.move_cursor(row=0, animate=False)
        self.move_cursor_to(keep)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.refill(self.visible_rows())
        self._sort_rows()

    def sort_by(self, column: str) -> None:
        """Sort by a column; choosing the same column again reverses the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._sort_rows()

    def toggle_mark(self) -> None:
        sid = self.current_id
        if sid is not None:
            self.marks ^= {sid}
            self.apply(self.sessions.values())

    def clear_marks(self) -> None:
        self.marks.clear()
        self.apply(self.sessions.values())
