"""The live sessions table: rows keyed by session id, changed cells updated in place.

A poll hands :meth:`SessionsTable.apply` the full list of sessions; the table renders each session
into plain cells, compares them with what it shows, and calls ``update_cell`` only for cells that
changed (dolphie's keyed diff), adding and removing rows as sessions come and go. The cursor, the
scroll position, the marks, the filter and the sort survive every poll. Only a user action that
changes most rows at once (a new filter) rebuilds the table, and the cursor stays on its session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

COLUMNS = (
    ("mark", " "),
    ("name", "Name"),
    ("id", "ID"),
    ("status", "Status"),
    ("age", "Age"),
    ("cpu", "Cores req/used"),
    ("ram", "RAM GB req/used"),
    ("image", "Image"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
STATUS_STYLES = {
    "Pending": "bold yellow",
    "Running": "bold green",
    "Completed": "blue",
    "Failed": "bold red",
    "Terminating": "magenta",
}
STATUS_ORDER = {status: rank for rank, status in enumerate(STATUS_STYLES)}
MARK = "●"
REBUILD_ABOVE = 100
"""Removing more rows than this at once rebuilds the table (``remove_row`` is O(rows) each)."""


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
        session.id,
        Text(session.status, style=STATUS_STYLES.get(session.status, "")),
        format_age(session.start_time, now),
        format_pair(session.requested_cores, session.cores_in_use, 3),
        format_pair(session.requested_ram_gb, session.ram_in_use_gb, 2),
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


@dataclass
class ApplyStats:
    """What one poll changed in the table (for the benchmark and the tests)."""

    added: int = 0
    removed: int = 0
    cells: int = 0
    rebuilt: bool = False


class SessionsTable(DataTable):
    """A DataTable of sessions that updates in place; marks, filter and sort are its own state."""

    def __init__(self, clock: Callable[[], datetime], **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._clock = clock
        self.sessions: dict[str, Any] = {}
        """Every session of the last poll, visible or filtered out."""
        self.marks: set[str] = set()
        self.filter_text = ""
        self.sort_column = "name"
        self.sort_reverse = False
        self._shown: dict[str, tuple] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def current_id(self) -> str | None:
        """The session id under the cursor, or None when the table is empty."""
        if not self._shown or not self.is_valid_row_index(self.cursor_row):
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def selected_ids(self) -> list[str]:
        """The marked sessions that still exist, or else the one under the cursor."""
        marked = [sid for sid in self.sessions if sid in self.marks]
        if marked:
            return marked
        current = self.current_id
        return [current] if current else []

    def visible(self) -> list[Any]:
        return [s for s in self.sessions.values() if matches(s, self.filter_text)]

    def apply(self, sessions: Iterable[Any]) -> ApplyStats:
        """Show a new poll: add, update in place and remove rows; re-sort only when order may change."""
        self.sessions = {s.id: s for s in sessions}
        self.marks &= self.sessions.keys()
        wanted = {s.id: s for s in self.visible()}
        stats = ApplyStats()
        gone = [sid for sid in self._shown if sid not in wanted]
        if len(gone) > REBUILD_ABOVE:
            self._rebuild(wanted.values())
            return ApplyStats(added=len(wanted), removed=len(gone), rebuilt=True)
        with self.app.batch_update():
            for sid in gone:
                self.remove_row(sid)
                del self._shown[sid]
            stats.removed = len(gone)
            reorder = self._write_rows(wanted.values(), stats)
            if reorder:
                self._sort_rows()
        return stats

    def _write_rows(self, sessions: Iterable[Any], stats: ApplyStats) -> bool:
        """Add new rows and update changed cells; True when the sort order may have changed."""
        now = self._clock()
        sort_index = COLUMN_KEYS.index(self.sort_column)
        reorder = False
        for session in sessions:
            cells = render_cells(session, now, session.id in self.marks)
            old = self._shown.get(session.id)
            if old is None:
                self.add_row(*cells, key=session.id)
                stats.added += 1
                reorder = True
            elif old != cells:
                for column, before, after in zip(COLUMN_KEYS, old, cells):
                    if before != after:
                        self.update_cell(session.id, column, after, update_width=True)
                        stats.cells += 1
                reorder = reorder or old[sort_index] != cells[sort_index]
            self._shown[session.id] = cells
        return reorder

    def _rebuild(self, sessions: Iterable[Any]) -> None:
        """Re-fill the table (a filter change); the cursor stays on the session it was on."""
        keep = self.current_id
        with self.app.batch_update():
            self.clear()
            self._shown.clear()
            self._write_rows(sessions, ApplyStats())
            self._sort_rows(keep)

    def _sort_rows(self, keep: str | None = None) -> None:
        keep = keep or self.current_id
        key = sort_key(self.sort_column)
        self.sort("id", key=lambda sid: key(self.sessions[sid]), reverse=self.sort_reverse)
        self.move_cursor_to(keep)

    def move_cursor_to(self, session_id: str | None) -> None:
        if session_id in self._shown:
            self.move_cursor(row=self.get_row_index(session_id), animate=False)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild(self.visible())

    def sort_by(self, column: str) -> None:
        """Sort by a column; choosing the same column again reverses the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._sort_rows()

    def toggle_mark(self) -> None:
        sid = self.current_id
        if sid is None:
            return
        self.marks ^= {sid}
        self.apply(self.sessions.values())

    def clear_marks(self) -> None:
        self.marks.clear()
        self.apply(self.sessions.values())
