"""The live sessions table: rows keyed by session id, changed cells updated in place.

A poll hands :meth:`SessionsTable.apply` the full list of sessions; the table renders each session
into plain cells and lets :class:`~srcnet_tui.tui.widgets.keyed_table.KeyedTable` change only the cells that
differ. The cursor, the scroll position, the marks, the filter and the sort survive every poll;
rows are re-sorted only when one arrives or the sort column changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from rich.text import Text
from textual.widgets.data_table import ColumnKey

from srcnet_tui.core.skaha_rules import COMPLETED, FAILED, GIB, PENDING, RUNNING, TERMINAL_STATUSES, TERMINATING
from srcnet_tui.tui.widgets.bars import use_bar
from srcnet_tui.tui.widgets.keyed_table import KeyedTable, SyncStats

COLUMNS = (
    ("mark", " "),
    ("name", "Name"),
    ("status", "Status"),
    ("age", "Time"),
    ("cpu", "Cores"),
    ("ram", "RAM GiB"),
    ("why", "Exit / why"),
    ("id", "ID"),
    ("image", "Image"),
)
"""What matters first comes first: at 80 columns the name, status, time, both bars (use against
request: ``███░░ 1.5/2``) and the cause are in view. RAM is in the unit of a ``ram`` request (GiB, Skaha's "G"), so a session asked for 8 shows 8, not 8.59 GB."""
SITE_COLUMN = ("site", "Site")
"""Beside the name when the table shows several sites (``--site all``)."""
STALE_STYLE = "bold reverse red"
SORT_ARROWS = {False: " ▲", True: " ▼"}
STATUS_STYLES = {
    PENDING: "bold yellow",
    RUNNING: "bold green",
    COMPLETED: "blue",
    FAILED: "bold red",
    TERMINATING: "magenta",
}
STATUS_ORDER = {status: rank for rank, status in enumerate(STATUS_STYLES)}
MARK = "●"
NAME_CELLS = 26
"""Longer names (a run id is in every task's) are cut in the middle, keeping the task number: the bars stay in view."""
MARKED_STYLE = "bold magenta"
HIDDEN_WHEN_DONE = frozenset({COMPLETED})
"""Statuses the dashboard hides until asked (a failed session stays in view: it wants attention)."""


@dataclass
class RowFacts:
    """What a row shows beside the session itself: marks, ledger outcomes, pending reasons, end times."""

    now: datetime
    marks: set[str] = field(default_factory=set)
    outcomes: dict[str, Any] = field(default_factory=dict)
    """Session id -> :class:`srcnet_tui.tui.session_outcomes.Outcome` (the run ledger's word on it)."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Session id -> why it is still Pending (the client's estimate)."""
    ended_at: dict[str, datetime] = field(default_factory=dict)
    """Session id -> when this app saw it finish (the platform lists no end time)."""
    stale_sites: frozenset[str] = frozenset()
    """Sites whose last request failed: their rows are the last known ones."""


FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DrawnRow:
    """A row as last drawn: from which session and facts, the cells, and until when they stay true."""

    session: Any
    noted: tuple
    until: datetime
    cells: tuple


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


def age_changes_at(start: datetime | None, now: datetime) -> datetime:
    """When :func:`format_age` of ``start`` next shows another text (never, without a start)."""
    if start is None:
        return FOREVER
    seconds = max(0, int((now - start).total_seconds()))
    step = 1 if seconds < 60 else 60 if seconds < 86400 else 3600
    return start + timedelta(seconds=(seconds // step + 1) * step)


def format_amount(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def use_cell(used: float | None, requested: float | None, unit: str = "") -> Text:
    """``███░░ 1.5/2``: a bar of use against request, then both numbers."""
    numbers = f"{format_amount(used, 1)}/{format_amount(requested, 2)}{unit}"
    return Text.assemble(use_bar(used, requested), " ", numbers)


def as_gib(gb: float | None) -> float | None:
    """Decimal GB as a platform reports them, in GiB as a ``ram`` request is written."""
    return None if gb is None else gb * 1e9 / GIB


def short_name(name: str, cells: int = NAME_CELLS) -> str:
    """``quickstart-20261201-182740-c4c6-003`` -> ``quickstart-2026…-c4c6-003`` (the whole name is in ``i``)."""
    if len(name) <= cells:
        return name
    tail = cells // 2
    return f"{name[: cells - tail - 1]}…{name[-tail:]}"


def short_image(image: str) -> str:
    """``images.canfar.net/skaha/sofia2:2.6`` -> ``skaha/sofia2:2.6``: the registry host says little."""
    parts = (image or "").split("/", 1)
    return parts[1] if len(parts) == 2 and "." in parts[0] else (image or "")


def duration(session: Any, facts: RowFacts) -> str:
    """How long it has run: until now while running, until it ended once finished (when known)."""
    if session.status not in TERMINAL_STATUSES:
        return format_age(session.start_time, facts.now)
    outcome = facts.outcomes.get(session.id)
    end = facts.ended_at.get(session.id)
    if outcome is not None and outcome.finished_at is not None:
        end = datetime.fromtimestamp(outcome.finished_at, tz=UTC)
    return format_age(session.start_time, end) if end is not None else "-"


def why(session: Any, facts: RowFacts) -> Text:
    """The exit code or cause of a finished session, or why a pending one waits."""
    outcome = facts.outcomes.get(session.id)
    if outcome is not None:
        return Text(outcome.cause, style="red" if session.status == FAILED else "")
    if session.status == PENDING:
        return Text(facts.reasons.get(session.id, ""), style="yellow")
    return Text("being deleted" if session.status == TERMINATING else "", style="dim")


def site_of(session: Any) -> str:
    """The site that listed a session (empty when the table shows one site)."""
    return getattr(session, "site", "")


def site_cell(session: Any, facts: RowFacts) -> Text:
    """The site's name, marked while it does not answer (the row is its last known state)."""
    site = site_of(session)
    return Text(f"{site} stale", style=STALE_STYLE) if site in facts.stale_sites else Text(site, style="cyan")


def render_cells(session: Any, facts: RowFacts, with_site: bool = False) -> tuple:
    """The cells of one session's row, as the dashboard shows them."""
    marked = session.id in facts.marks
    return (
        Text(MARK, style=MARKED_STYLE) if marked else " ",
        Text(short_name(session.name), style=MARKED_STYLE) if marked else short_name(session.name),
        *((site_cell(session, facts),) if with_site else ()),
        Text(session.status, style=STATUS_STYLES.get(session.status, "")),
        duration(session, facts),
        use_cell(session.cores_in_use, session.requested_cores),
        use_cell(as_gib(session.ram_in_use_gb), as_gib(session.requested_ram_gb)),
        why(session, facts),
        session.id,
        short_image(session.image),
    )


@lru_cache(maxsize=65536)
def name_order(name: str) -> tuple[str, int, str]:
    """Run, then replica number, then name (cached: a poll re-sorts thousands of names it has seen)."""
    return run_of(name), replica_of(name), name


def sort_key(column: str) -> Callable[[Any], Any]:
    """A key function over sessions for a column (numbers sort as numbers, statuses by lifecycle)."""
    keys: dict[str, Callable[[Any], Any]] = {
        "name": lambda s: name_order(s.name),
        "id": lambda s: s.id,
        "status": lambda s: (STATUS_ORDER.get(s.status, 99), s.name),
        "age": lambda s: (s.start_time is None, s.start_time.timestamp() if s.start_time else 0.0),
        "cpu": lambda s: (s.cores_in_use or 0.0, s.requested_cores or 0.0),
        "ram": lambda s: (s.ram_in_use_gb or 0.0, s.requested_ram_gb or 0.0),
        "image": lambda s: s.image or "",
        "mark": lambda s: s.name,
        "why": lambda s: s.name,
        "site": lambda s: (site_of(s), s.name),
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
    """The sessions as rows; marks, filter, sort and the finished toggle are its own state and survive every poll."""

    def __init__(self, clock: Callable[[], datetime], with_site: bool = False, **kwargs) -> None:
        super().__init__((*COLUMNS[:2], SITE_COLUMN, *COLUMNS[2:]) if with_site else COLUMNS, **kwargs)
        self._clock = clock
        self.with_site = with_site
        self.sessions: dict[str, Any] = {}
        """Every session of the last poll, visible or filtered out."""
        self.marks: set[str] = set()
        self.filter_text = ""
        self.sort_column = "name"
        self.sort_reverse = False
        self.show_finished = False
        """Completed sessions show only when asked (their count is in the summary)."""
        self.outcomes: dict[str, Any] = {}
        self.reasons: dict[str, str] = {}
        self.ended_at: dict[str, datetime] = {}
        self.stale_sites: frozenset[str] = frozenset()
        self._rendered: dict[str, DrawnRow] = {}

    def column_label(self, key: str, label: str) -> str:
        """The header names the sort column and its direction (every label keeps room for the arrow)."""
        if not label.strip():
            return label
        return label + (SORT_ARROWS[self.sort_reverse] if key == self.sort_column else "  ")

    @property
    def current_id(self) -> str | None:
        """The session id under the cursor, or None when the table is empty."""
        return self.current_key

    @property
    def hidden_finished(self) -> int:
        """How many sessions the finished toggle hides now."""
        if self.show_finished:
            return 0
        return sum(1 for s in self.sessions.values() if s.status in HIDDEN_WHEN_DONE)

    def selected_ids(self) -> list[str]:
        """The marked sessions that still exist, or else the one under the cursor."""
        marked = [sid for sid in self.sessions if sid in self.marks]
        if marked:
            return marked
        current = self.current_id
        return [current] if current else []

    def shows(self, session: Any) -> bool:
        return (self.show_finished or session.status not in HIDDEN_WHEN_DONE) and matches(session, self.filter_text)

    def visible_rows(self) -> dict[str, tuple]:
        facts = RowFacts(self._clock(), self.marks, self.outcomes, self.reasons, self.ended_at, self.stale_sites)
        hidden = frozenset() if self.show_finished else HIDDEN_WHEN_DONE
        shown = (s for s in self.sessions.values() if s.status not in hidden)
        if self.filter_text.strip():
            shown = (s for s in shown if matches(s, self.filter_text))
        rows = {s.id: self._cells(s, facts) for s in shown}
        for sid in self._rendered.keys() - self.sessions.keys():
            del self._rendered[sid]
        return rows

    def _cells(self, session: Any, facts: RowFacts) -> tuple:
        """A row's cells, drawn again only when something it shows changed (bars cost; most rows stay
        put, and a duration changes text at most once a minute after the first)."""
        sid = session.id
        noted = (
            sid in facts.marks,
            facts.outcomes.get(sid),
            facts.reasons.get(sid),
            facts.ended_at.get(sid),
            site_of(session) in facts.stale_sites,
        )
        drawn = self._rendered.get(sid)
        if drawn is not None and facts.now < drawn.until and drawn.noted == noted and drawn.session == session:
            return drawn.cells
        cells = render_cells(session, facts, self.with_site)
        until = age_changes_at(session.start_time, facts.now) if session.status not in TERMINAL_STATUSES else FOREVER
        self._rendered[sid] = DrawnRow(session, noted, until, cells)
        return cells

    def apply(self, sessions: Iterable[Any]) -> SyncStats:
        """Show a new poll in place; re-sort only when a row arrived or the sort column changed."""
        new = {s.id: s for s in sessions}
        self._note_endings(new)
        failed_before = self._failed_ids()
        self.sessions = new
        self.marks &= self.sessions.keys()
        first_fill = not self._shown
        stats = self.sync(self.visible_rows())
        if stats.added or self.sort_column in stats.columns or self._failed_ids() != failed_before:
            self._sort_rows(follow_cursor=not first_fill)
        return stats

    def _failed_ids(self) -> set[str]:
        return {sid for sid, s in self.sessions.items() if s.status == FAILED}

    def _note_endings(self, new: dict[str, Any]) -> None:
        """Remember when a session seen active is first seen finished (its duration ends there)."""
        now = self._clock()
        for sid, session in new.items():
            before = self.sessions.get(sid)
            if session.is_terminal and before is not None and not before.is_terminal:
                self.ended_at.setdefault(sid, now)
        for sid in set(self.ended_at) - new.keys():
            del self.ended_at[sid]

    def _sort_rows(self, follow_cursor: bool = True) -> None:
        """Re-order the rows, failed sessions first; the cursor stays on its session (or on the top row after the first fill)."""
        keep = self.current_id if follow_cursor else None
        key, sessions = sort_key(self.sort_column), self.sessions
        order = sorted(self._shown, key=lambda sid: key(sessions[sid]), reverse=self.sort_reverse)
        failed = [sid for sid in order if sessions[sid].status == FAILED]
        self.put_in_order([*failed, *(sid for sid in order if sessions[sid].status != FAILED)] if failed else order)
        if keep is None:
            self.move_cursor(row=0, animate=False)
        self.move_cursor_to(keep)

    def _label_sort_column(self) -> None:
        for key, label in self._column_spec:
            self.columns[ColumnKey(key)].label = Text(self.column_label(key, label))
        self._clear_caches()  # the header row is cached like any other
        self.refresh()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.refill(self.visible_rows())
        self._sort_rows()

    def toggle_finished(self) -> None:
        self.show_finished = not self.show_finished
        self.set_filter(self.filter_text)

    def sort_by(self, column: str) -> None:
        """Sort by a column; choosing the same column again reverses the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._label_sort_column()
        self._sort_rows()

    def learn(self, outcomes: dict[str, Any], reasons: dict[str, str]) -> None:
        """New ledger outcomes and pending reasons; the rows they concern are redrawn in place."""
        self.outcomes.update(outcomes)
        self.reasons = reasons
        self.apply(self.sessions.values())

    def toggle_mark(self) -> None:
        sid = self.current_id
        if sid is not None:
            self.marks ^= {sid}
            self.apply(self.sessions.values())

    def clear_marks(self) -> None:
        self.marks.clear()
        self.apply(self.sessions.values())
