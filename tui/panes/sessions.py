"""The Sessions pane: a live table of the user's sessions and the k9s keys to act on them.

Polling follows dolphie: one worker loop asks for the session list, applies it, then waits before
asking again, so polls never overlap however slow the platform is. While the platform is
unreachable the wait doubles up to a cap short enough that the app is back soon after the platform
(5 s for the local server, 15 s for a remote site), and the header says "stale since" the last good
poll and when the next try is; ``ctrl+r`` polls at once, ``f`` freezes the table (and stops
polling) until pressed again.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import AuthError, SrcnetError, Unreachable
from srcnet_tui.core.models import parse_events
from srcnet_tui.core.pending import explain_pending
from srcnet_tui.core.skaha_rules import PENDING, RUNNING
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.messages import FollowLogs, SessionsPolled, ShowEvents
from srcnet_tui.tui.platform import error_line
from srcnet_tui.tui.screens.help import bound_key
from srcnet_tui.tui.screens.modals import TextModal, confirm
from srcnet_tui.tui.services import services
from srcnet_tui.tui.session_outcomes import ledger_outcomes
from srcnet_tui.tui.several_sites import SitesClient, SitesPlatform, SiteState
from srcnet_tui.tui.widgets.runs_progress import RunsProgress
from srcnet_tui.tui.widgets.sessions_table import SessionsTable, run_of
from srcnet_tui.tui.worker_errors import ReportsWorkerErrors

RECOVERY_S = {"local": 5.0}
"""How soon the table is fresh again after the platform answers again, by backend (others: REMOTE_RECOVERY_S).
While stale, a try gives up after half of it and the wait between tries is at most the other half."""
REMOTE_RECOVERY_S = 15.0
PENDING_EVERY_S = 10.0
"""Why-pending estimates are worked out again at most this often while the Pending sessions stay the same."""
LEDGER_EVERY_S = 5.0
"""Finished sessions the ledger has no outcome of yet are looked up again at most this often."""
LATE_AFTER_INTERVALS = 3
"""A poll that has not come back after this many intervals marks the data stale before it fails."""


def recovery_bound(backend: str) -> float:
    return RECOVERY_S.get(backend, REMOTE_RECOVERY_S)


def backoff_delay(interval: float, failures: int, recovery_s: float = REMOTE_RECOVERY_S) -> float:
    """Seconds to wait before the next poll: the interval; after failures, from the interval doubling
    per failure up to half the recovery bound (the other half is a try's own time limit)."""
    if failures == 0:
        return interval
    half = recovery_s / 2
    return Backoff(first_s=min(interval, half), cap_s=half).pause(failures - 1)


def details_text(session: Any, notes: dict[str, str | None] | None = None) -> Table:
    """A session's fields as a two-column table (the details modal), then what the client knows beside them."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in [*session.to_json().items(), *(notes or {}).items()]:
        if value not in (None, "", []):
            table.add_row(key, str(value))
    return table


def events_table(text: str) -> Table | Text:
    events = parse_events(text)
    if not events:
        return Text(text.strip() or "no events")
    table = Table(expand=True)
    for column in ("type", "reason", "message", "last_time"):
        table.add_column(column.replace("_", " "))
    for event in events:
        table.add_row(*(event[c] for c in ("type", "reason", "message", "last_time")))
    return table


def _site_state_text(state: SiteState) -> Text:
    if not state.asked:
        return Text(f"{state.name} {state.error}", style="dim")
    if not state.stale:
        return Text.assemble((state.name, "bold cyan"), f" {len(state.sessions)}")
    since = f" since {state.updated_at:%H:%M:%S}" if state.updated_at else ""
    return Text.assemble((f"{state.name} stale{since}", "bold reverse red"), (f": {state.error}", "red"))


class SessionsPane(ReportsWorkerErrors, Vertical):
    """Table + filter line + summary line; every key acts on the marked sessions or the current one."""

    BINDINGS = keys(
        "sessions",
        ("enter,i", "details", "Info"),
        ("l", "logs", "Logs"),
        ("e", "events", "Events"),
        ("space", "mark", "Mark"),
        ("ctrl+d", "delete", "Delete"),
        ("r", "renew", "Renew", False),
        ("slash", "filter", "Filter"),
        ("f", "freeze", "Freeze"),
        ("a", "toggle_finished", "Show/hide completed", False),
        ("R", "this_run", "Only this run", False),
        ("g", "group", "Group by run", False),
        ("ctrl+r", "refresh", "Refresh now", False),
        ("ctrl+backslash", "clear_marks", "Clear marks", False),
        ("N", "sort('name')", "Sort by name", False),
        ("S", "sort('status')", "Sort by status", False),
        ("A", "sort('age')", "Sort by age", False),
        ("C", "sort('cpu')", "Sort by cores used", False),
        ("M", "sort('ram')", "Sort by RAM used", False),
        ("escape", "clear_filter", "Clear filter", False),
        priority=("filter",),
    )

    frozen: reactive[bool] = reactive(False)

    def __init__(self, interval: float = 2.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = interval
        self.failures = 0
        self.polls = 0
        self._wake = asyncio.Event()
        self._next_ledger_read = 0.0
        self._next_pending_read = 0.0
        self._explained: frozenset[str] = frozenset()
        """The Pending sessions the reasons shown were worked out for."""
        self._seen_running: dict[str, datetime] = {}
        """When each session was last seen Running (one Pending again after that was preempted)."""
        self._next_poll_at: float | None = None
        """When the loop polls again (``time.monotonic``), while it waits; None while a poll is out."""
        self._gives_up_at: float | None = None
        """When the poll that is out gives up (``time.monotonic``), while the data is stale."""

    def compose(self) -> ComposeResult:
        yield RunsProgress(id="sessions-runs")
        several = isinstance(services(self).platform, SitesPlatform)
        sites_line = Static(id="sessions-sites")
        sites_line.display = several
        yield sites_line
        yield SessionsTable(services(self).clock, with_site=several, id="sessions-table")
        hint = f"{self._key('filter')} filter: text, or run:NAME   (enter applies, {self._key('clear-filter')} clears)"
        yield Input(placeholder=hint, id="sessions-filter", compact=True)
        yield Static(id="sessions-summary")

    @property
    def table(self) -> SessionsTable:
        return self.query_one(SessionsTable)

    def on_mount(self) -> None:
        self.query_one("#sessions-filter").display = False
        self._update_summary()
        self.poll_loop()
        self.set_interval(1.0, self._every_second)

    # ---- polling -------------------------------------------------------------------------------

    @work(exclusive=True, group="sessions-poll", exit_on_error=False, description="poll sessions")
    async def poll_loop(self) -> None:
        """Poll, apply, wait (longer after each failure, up to half the recovery bound); never two polls at once."""
        recovery_s = recovery_bound(services(self).settings.backend)
        while True:
            if not self.frozen:
                await self.try_poll(recovery_s)
            self._wake.clear()
            delay = backoff_delay(self.interval, self.failures, recovery_s)
            self._next_poll_at = time.monotonic() + delay
            self._show_retry()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
            self._next_poll_at = None
            self._show_retry()

    async def try_poll(self, recovery_s: float) -> None:
        """One poll. While the data is stale it gives up after half the recovery bound (a request the
        outage swallowed may never be answered), and ``ctrl+r`` abandons it for a new one at once."""
        budget_s = recovery_s / 2
        poll = asyncio.ensure_future(self.poll_once())
        started, failures = time.monotonic(), self.failures
        try:
            while not poll.done():
                self._gives_up_at = started + budget_s if self._is_stale() else None
                self._show_retry()
                woken = asyncio.ensure_future(self._wake.wait())
                left = 1.0 if self._gives_up_at is None else min(1.0, max(0.0, self._gives_up_at - time.monotonic()))
                await asyncio.wait({poll, woken}, timeout=left)  # a second at most: staleness may set in meanwhile
                woken.cancel()
                if poll.done():
                    break
                if self._wake.is_set():
                    self._wake.clear()
                    poll.cancel()
                    poll = asyncio.ensure_future(self.poll_once())
                    started, failures = time.monotonic(), self.failures
                elif self._gives_up_at is not None and time.monotonic() >= self._gives_up_at:
                    poll.cancel()
                    if self.failures == failures:  # it had not failed on its own before being given up
                        self._poll_failed(Unreachable(f"no answer within {budget_s:g} s"))
                    break
            if poll.done() and not poll.cancelled():
                poll.result()  # a bug in the poll ends the loop as before, reported like any worker's
        finally:
            poll.cancel()
            self._gives_up_at = None

    def _is_stale(self) -> bool:
        return self.failures > 0 or services(self).status_header.stale_since is not None

    async def poll_once(self) -> None:
        platform = services(self).platform
        client = None
        try:
            client = await platform.client()
            sessions = await client.list_sessions()
        except (SrcnetError, OSError) as exc:  # a lost network or a broken server answer must not end the loop
            self._poll_failed(exc)
            if isinstance(exc, Unreachable):
                self._say_hung(await platform.recover())
        else:
            if isinstance(client, SitesClient):
                self.table.stale_sites = client.stale_sites
            self._poll_succeeded(sessions)
        if isinstance(client, SitesClient):
            self._show_sites(client.states.values())

    def _show_sites(self, states: Any) -> None:
        """One word per site: how many sessions it has, or since when it is stale and why."""
        parts = [_site_state_text(state) for state in states]
        self.query_one("#sessions-sites", Static).update(Text(" · ").join(parts))

    def _poll_succeeded(self, sessions: list[Any]) -> None:
        now = services(self).clock()
        if self.failures:
            self.notify("Connection restored.", title="Sessions")
        self.failures = 0
        self.polls += 1
        self.table.apply(sessions)
        self.query_one(RunsProgress).show(sessions)
        self._update_summary()
        self.learn_outcomes(sessions)
        self.estimate_pending(sessions)
        header = services(self).status_header
        header.updated_at = now
        header.stale_since = None
        header.trouble = ""
        self.post_message(SessionsPolled(sessions, now))

    @work(exclusive=True, group="sessions-pending", exit_on_error=False, description="work out why sessions are pending")
    async def estimate_pending(self, sessions: list[Any]) -> None:
        """The client's estimate of why each Pending session waits (a few requests: asked at most every
        :data:`PENDING_EVERY_S`, or at once when the set of Pending sessions changed)."""
        now = services(self).clock()
        self._seen_running.update({s.id: now for s in sessions if s.status == RUNNING})
        waiting = frozenset(s.id for s in sessions if s.status == PENDING)
        if waiting == self._explained and time.monotonic() < self._next_pending_read:
            return
        self._explained, self._next_pending_read = waiting, time.monotonic() + PENDING_EVERY_S
        reasons: dict[str, str] = {}
        if waiting:
            client = await services(self).platform.client()
            if isinstance(client, SitesClient):
                reasons = await client.pending_reasons(sessions, self._seen_running)
            else:
                reasons = await explain_pending(client, sessions, self._seen_running)
        if reasons != self.table.reasons:
            self.table.learn({}, reasons)

    @work(exclusive=True, group="sessions-outcomes", exit_on_error=False, description="read the run ledger")
    async def learn_outcomes(self, sessions: list[Any]) -> None:
        """Exit codes and causes the ledger has of finished sessions the table does not know yet."""
        unknown = [s.id for s in sessions if s.is_terminal and s.id not in self.table.outcomes]
        if not unknown or time.monotonic() < self._next_ledger_read:
            return
        self._next_ledger_read = time.monotonic() + LEDGER_EVERY_S
        outcomes = await asyncio.to_thread(ledger_outcomes, services(self).settings, unknown)
        if outcomes:
            self.table.learn(outcomes, self.table.reasons)

    def _poll_failed(self, exc: SrcnetError | OSError) -> None:
        header = services(self).status_header
        if self.failures == 0:
            header.stale_since = header.updated_at or services(self).clock()
            if isinstance(exc, AuthError):
                services(self).show_problem("Credential refused", str(exc))
            else:
                self.notify(error_line(exc), title="Sessions: cannot poll", severity="warning")
        self.failures += 1

    def _say_hung(self, hung: str | None) -> None:
        """Name a hung local server in the header, and once per outage in a notification."""
        header = services(self).status_header
        if hung and not header.trouble:
            self.notify(hung, title="Sessions: the platform is hung", severity="warning")
        header.trouble = "local server hung" if hung else ""

    @work(exclusive=True, group="sessions-diagnose", exit_on_error=False, description="check the local server")
    async def diagnose_late_poll(self) -> None:
        """A poll that is late: is the local server hung? (Said before the poll itself gives up.)"""
        self._say_hung(await services(self).platform.diagnose())

    def _every_second(self) -> None:
        self._mark_stale_when_late()
        self._show_retry()

    def _show_retry(self) -> None:
        """While the data is stale, the header counts down to the next try (or to when the one out gives
        up) and names the key that tries now."""
        try:
            header = services(self).status_header
        except NoMatches:  # the app is closing and has already removed its header
            return
        header.retry_key = self._key("refresh")
        header.retry_in_s = self._seconds_to(self._next_poll_at) if header.stale_since is not None else None
        header.gives_up_in_s = self._seconds_to(self._gives_up_at) if header.stale_since is not None else None

    @staticmethod
    def _seconds_to(moment: float | None) -> int | None:
        return None if moment is None else max(0, math.ceil(moment - time.monotonic()))

    def _key(self, name: str) -> str:
        return bound_key(self, f"sessions.{name}")

    def _mark_stale_when_late(self) -> None:
        """A hung platform (no answer, no error yet) shows as stale within a few intervals, not after
        the client's timeout."""
        try:
            header = services(self).status_header
        except NoMatches:  # the app is closing and has already removed its header
            return
        if self.frozen or header.updated_at is None or header.stale_since is not None:
            return
        late_s = max(self.interval * LATE_AFTER_INTERVALS, 5.0)
        if (services(self).clock() - header.updated_at).total_seconds() > late_s:
            header.stale_since = header.updated_at
            self.diagnose_late_poll()

    def watch_frozen(self, frozen: bool) -> None:
        if self.is_mounted:
            services(self).status_header.freeze_key = self._key("freeze")
            services(self).status_header.frozen = frozen
        if not frozen:
            self._wake.set()

    # ---- the summary line ---------------------------------------------------------------------

    def _update_summary(self) -> None:
        """Counts by state are in the progress bars above; this line says what the table leaves out or orders by."""
        table = self.table
        text = Text(f"{len(table.sessions)} sessions")
        if table.hidden_finished:
            text.append(f" · {table.hidden_finished} completed hidden ({self._key('toggle-finished')} shows)", style="dim")
        if table.marks:
            text.append(f" · {len(table.marks)} marked", style="bold magenta")
        if table.filter_text:
            text.append(f" · filter “{table.filter_text}” ({table.row_count} shown)", style="bold yellow")
        arrow = "▼" if table.sort_reverse else "▲"
        text.append(f" · sort {table.sort_column} {arrow}, failed first", style="dim")
        self.query_one("#sessions-summary", Static).update(text)

    # ---- keys ------------------------------------------------------------------------------------

    def _current(self) -> Any | None:
        sid = self.table.current_id
        return self.table.sessions.get(sid) if sid else None

    def _selected(self) -> list[Any]:
        return [self.table.sessions[sid] for sid in self.table.selected_ids()]

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value is not None:
            self.action_sort(event.column_key.value)

    def action_details(self) -> None:
        session = self._current()
        if session:
            outcome = self.table.outcomes.get(session.id)
            notes = {
                "site": getattr(session, "site", None),
                "pending because": self.table.reasons.get(session.id),
                "ledger": outcome.cause if outcome else None,
            }
            self.app.push_screen(TextModal(f"Session {session.name} ({session.id})", details_text(session, notes)))

    def action_logs(self) -> None:
        session = self._current()
        if session:
            self.post_message(FollowLogs(session))

    def action_events(self) -> None:
        session = self._current()
        if session:
            self.post_message(ShowEvents(session))

    def action_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor_down()
        self._update_summary()

    def action_clear_marks(self) -> None:
        self.table.clear_marks()
        self._update_summary()

    def action_sort(self, column: str) -> None:
        self.table.sort_by(column)
        self._update_summary()

    def action_group(self) -> None:
        """Sessions of one run next to each other (sorted by run, then replica number)."""
        self.action_sort("name")

    def action_this_run(self) -> None:
        session = self._current()
        if session:
            self.apply_filter(f"run:{run_of(session.name)}")

    def action_toggle_finished(self) -> None:
        self.table.toggle_finished()
        self._update_summary()

    def action_freeze(self) -> None:
        self.frozen = not self.frozen

    def action_refresh(self) -> None:
        self._wake.set()

    def action_filter(self) -> None:
        """Into the filter line, at once: the keys typed right after ``/`` are the filter's."""
        box = self.query_one("#sessions-filter", Input)
        if box.has_focus:
            raise SkipAction  # a "/" typed in the filter itself
        box.value = self.table.filter_text
        box.display = True
        self.screen.set_focus(box)  # at once, not after a refresh: the keys typed next are already queued

    def action_clear_filter(self) -> None:
        self.apply_filter("")

    def apply_filter(self, text: str) -> None:
        """Filter the table; the filter line shows while a filter is set."""
        box = self.query_one("#sessions-filter", Input)
        if box.value != text:
            with box.prevent(Input.Changed):
                box.value = text
        if not text and box.has_focus:
            self.table.focus()
        box.display = bool(text) or box.has_focus
        self.table.set_filter(text)
        self._update_summary()

    @on(Input.Changed, "#sessions-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self._update_summary()

    @on(Input.Submitted, "#sessions-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.table.focus()

    def action_renew(self) -> None:
        sessions = self._selected()
        if sessions:
            self.renew(sessions)

    @work(group="sessions-action", exit_on_error=False, description="renew sessions")
    async def renew(self, sessions: list[Any]) -> None:
        done, failed = await self._each(sessions, "renew")
        if done:
            self.notify(f"Renewed {', '.join(done)}.", title="Renew")
        for line in failed:
            self.notify(line, title="Renew failed", severity="error")

    def action_delete(self) -> None:
        sessions = self._selected()
        if not sessions:
            return
        names = "\n".join(f"  {s.name} ({s.id}, {s.status})" for s in sessions)
        title = f"Delete {len(sessions)} session{'s' if len(sessions) > 1 else ''}?"
        confirm(self.app, title, f"These sessions will be deleted:\n{names}", lambda: self.delete(sessions))

    @work(group="sessions-action", exit_on_error=False, description="delete sessions")
    async def delete(self, sessions: list[Any]) -> None:
        done, failed = await self._each(sessions, "delete")
        self.table.marks -= {s.id for s in sessions}
        if done:
            self.notify(f"Deleted {', '.join(done)}.", title="Delete")
        for line in failed:
            self.notify(line, title="Delete failed", severity="error")
        self._wake.set()

    async def _each(self, sessions: list[Any], method: str) -> tuple[list[str], list[str]]:
        """Call ``client.<method>(id)`` for each session; names that worked, and one line per failure."""
        done: list[str] = []
        failed: list[str] = []
        client = await services(self).platform.client()
        for session in sessions:
            try:
                await getattr(client, method)(session.id)
            except SrcnetError as exc:
                failed.append(f"{session.name} ({session.id}): {error_line(exc)}")
            else:
                done.append(session.name)
        return done, failed
