"""The Runs pane's lower half: the ledger's runs with their progress, and driving runs to their end.

The table re-reads the ledger every few seconds (in a thread: SQLite) and counts each launched task
as running only once the Sessions pane's last poll saw its session started. Its keys act on the
selected run: ``r`` resumes it, ``R`` retries its failed tasks (asking first, naming them and the
resources they will use: the RAM their causes advise), ``enter`` shows its folder and its failed
tasks' causes, ``s`` its sessions and ``u`` its usage (those two are messages: the app switches to
the pane that shows them), ``c`` cleans it: the preview of its products on storage (each kept or
removed, sizes, total) and, once confirmed, the removal. Each finished run shows its storage
footprint, kept/removable (``Kept/rm``), read once (and again after a clean). The selected run's failed tasks are named with their causes under the
table. A run launched, resumed or retried here is driven from here; one that lost the platform is
resumed when a poll succeeds again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.widgets import DataTable

from srcnet_tui.core.errors import SrcnetError, Unreachable
from srcnet_tui.core.runs import states as L
from srcnet_tui.core.skaha_rules import COMPLETED, FAILED, RUNNING, TERMINATING
from srcnet_tui.tui import runs_adapter
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.messages import ShowRunSessions, ShowRunUsage
from srcnet_tui.tui.platform import error_line
from srcnet_tui.tui.run_config import ConfigDraft, save_draft
from srcnet_tui.tui.screens.modals import TextModal, confirm
from srcnet_tui.tui.services import services
from srcnet_tui.tui.widgets.keyed_table import KeyedTable
from srcnet_tui.tui.wording import plural
from srcnet_tui.tui.worker_errors import ReportsWorkerErrors

LEDGER_COLUMNS = (
    ("id", "Run (UTC start)"), ("kind", "Kind"), ("phase", "Phase"),
    ("waiting", "Waiting"), ("running", "Running"), ("done", "Done"), ("failed", "Failed"),
    ("storage", "Kept/rm"),
)  # fmt: skip
LEDGER_REFRESH_S = 3.0


@dataclass(frozen=True)
class Progress:
    """A run's tasks by what they are doing now: waiting (planned, or launched and still Pending on
    the platform), running, done (with or without sources) and failed (or lost)."""

    waiting: int
    running: int
    done: int
    failed: int


def run_progress(counts: dict[str, int], launched_statuses: list[str | None]) -> Progress:
    """The ledger's per-state task counts, with each launched task's session status from the last
    poll (None: not seen yet). A launched task counts as running only while its session runs; one
    whose session has ended but is not collected yet counts by how it ended (not as running)."""
    running = sum(1 for status in launched_statuses if status in (RUNNING, TERMINATING))
    ended_ok = launched_statuses.count(COMPLETED)
    ended_failed = launched_statuses.count(FAILED)
    not_started = counts.get(L.LAUNCHED, 0) - running - ended_ok - ended_failed
    return Progress(
        waiting=counts.get(L.PLANNED, 0) + counts.get(L.LAUNCHING, 0) + not_started,
        running=running,
        done=sum(counts.get(state, 0) for state in L.SUCCESS_STATES) + ended_ok,
        failed=counts.get(L.FAILED, 0) + counts.get(L.LOST, 0) + ended_failed,
    )


def ledger_row(run: Any, progress: Progress, footprint: str = "") -> tuple:
    phase_style = {"failed": "bold red", "done": "green", "finished": "green"}.get(run.phase, "")
    return (
        run.id, run.kind, Text(run.phase, style=phase_style), str(progress.waiting),
        Text(str(progress.running), style="bold green" if progress.running else ""), str(progress.done),
        Text(str(progress.failed), style="bold red" if progress.failed else ""), footprint,
    )  # fmt: skip


def _has_failures(run: Any) -> bool:
    return bool(run.counts.get(L.FAILED) or run.counts.get(L.LOST))


def resume_question(run: Any, p: Progress) -> str:
    """What resuming ``run`` would do, as the confirmation asks it."""
    if run.finished:
        return (
            f"Run {run.id} has ended: {p.done} done, {p.failed} failed.\n"
            "Resume it anyway? Its results are collected again; nothing is relaunched."
        )
    launched = run.counts.get(L.LAUNCHED, 0)
    not_launched = run.counts.get(L.PLANNED, 0) + run.counts.get(L.LAUNCHING, 0)
    return (
        f"Resume run {run.id}? {p.done} done, {p.failed} failed, {launched} launched (watched again),\n"
        f"{not_launched} not launched yet (launched now); then its results are collected."
    )


class RunsLedger(ReportsWorkerErrors, KeyedTable):
    """The ledger's runs, newest first; launches and resumes are driven from here."""

    BINDINGS = keys(
        "runs",
        ("r", "resume", "Resume"),
        ("R", "retry_failed", "Retry"),
        ("u", "usage", "Usage"),
        ("s", "sessions", "Sessions"),
        ("enter", "run_folder", "Run folder", False, "folder"),
        ("c", "clean", "Clean", False),
        ("ctrl+r", "refresh", "Refresh runs", False),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(LEDGER_COLUMNS, **kwargs)
        self.runs: dict[str, Any] = {}
        self.launched: dict[str, list[str]] = {}
        """Run id -> session ids of its launched tasks (from the ledger)."""
        self.session_status: dict[str, str] = {}
        """Session id -> status, from the Sessions pane's last poll."""
        self.interrupted: set[str] = set()
        """Runs this app drove until the platform stopped answering; resumed at the next good poll."""
        self.failures: dict[str, list[str]] = {}
        """Run id -> a line per failed task with its cause, for runs with failed tasks (from the ledger)."""
        self._failure_counts: dict[str, tuple] = {}
        """Run id -> its task counts when its failures were read."""
        self.footprints: dict[str, str] = {}
        """Run id -> ``kept/removable`` on storage, for finished runs (read once each: a listing of storage)."""

    def on_mount(self) -> None:
        self.border_title = "Runs (ledger)"
        self.ledger_loop()

    # ---- reading the ledger ----------------------------------------------------------------------

    @work(exclusive=True, group="runs-ledger", exit_on_error=False, description="read the run ledger")
    async def ledger_loop(self) -> None:
        while True:
            await self.refresh_ledger()
            await asyncio.sleep(LEDGER_REFRESH_S)

    async def refresh_ledger(self) -> None:
        try:
            runs, self.launched = await asyncio.to_thread(runs_adapter.read_ledger, services(self).settings)
        except (SrcnetError, OSError) as exc:  # a locked or broken ledger must not end the loop
            self.border_subtitle = error_line(exc)
            return
        self.runs = {run.id: run for run in runs}
        self._show()
        await self._read_failures()
        self._say_failures()
        await self._read_footprints()

    async def _read_footprints(self) -> None:
        """The storage footprint of finished runs not measured yet."""
        unmeasured = [run for run in self.runs.values() if run.finished and run.id not in self.footprints]
        if unmeasured:
            self.footprints.update(await asyncio.to_thread(runs_adapter.footprints, services(self).settings, unmeasured))
            self._show()

    async def _read_failures(self) -> None:
        """The failed tasks of runs whose counts changed since the last look (a task spec each: read rarely)."""
        counts = {run.id: tuple(sorted(run.counts.items())) for run in self.runs.values() if _has_failures(run)}
        changed = [run_id for run_id, seen in counts.items() if self._failure_counts.get(run_id) != seen]
        if changed:
            self.failures.update(await asyncio.to_thread(runs_adapter.failures_of, services(self).settings, changed))
        self.failures = {run_id: lines for run_id, lines in self.failures.items() if run_id in counts}
        self._failure_counts = counts

    def _say_failures(self) -> None:
        """The subtitle: the selected run's failed tasks with their causes, else what the keys do."""
        run = self.selected_run()
        lines = self.failures.get(run.id, []) if run is not None else []
        if lines:
            self.border_subtitle = f"{plural(len(lines), 'failed task')} · R retry · enter lists · {lines[0]}"
        else:
            self.border_subtitle = f"{plural(len(self.runs), 'run')} · enter folder · s sessions · r resume · u usage · c clean"

    @on(DataTable.RowHighlighted)
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._say_failures()

    def sessions_polled(self, sessions: list[Any]) -> None:
        """A poll of the Sessions pane: launched tasks whose session started now count as running."""
        self.session_status = {s.id: s.status for s in sessions}
        self._resume_interrupted()
        if self.launched:
            self._show()

    def progress(self, run: Any) -> Progress:
        statuses = [self.session_status.get(sid) for sid in self.launched.get(run.id, [])]
        return run_progress(run.counts, statuses)

    def _show(self) -> None:
        rows = {run.id: ledger_row(run, self.progress(run), self.footprints.get(run.id, "")) for run in self.runs.values()}
        stats = self.sync(rows)
        if stats.added:  # newest first, as the ledger lists them (run ids sort by time)
            self.sort("id", reverse=True)

    def action_refresh(self) -> None:
        self.run_worker(self.refresh_ledger(), group="runs-ledger-now", description="read the run ledger")

    # ---- the selected run ------------------------------------------------------------------------

    def selected_run(self) -> Any | None:
        key = self.current_key
        return self.runs.get(key) if key else None

    @on(DataTable.RowSelected)
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_run_folder()

    def action_run_folder(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.show_run(run)

    @work(group="runs-action", exit_on_error=False, description="show the run's folder")
    async def show_run(self, run: Any) -> None:
        body = await asyncio.to_thread(runs_adapter.describe_run, services(self).settings, run)
        self.app.push_screen(TextModal(f"Run {run.id}", body))

    def action_sessions(self) -> None:
        """The selected run's sessions: the Sessions pane filtered by the run id (in every session name)."""
        run = self.selected_run()
        if run is not None:
            self.post_message(ShowRunSessions(run.id))

    def action_usage(self) -> None:
        """The selected run's usage in the Usage pane: its profile logs, with the cores its tasks requested."""
        run = self.selected_run()
        if run is not None:
            self.post_message(ShowRunUsage(run))

    def action_resume(self) -> None:
        run = self.selected_run()
        if run is not None:
            confirm(self.app, "Resume run", resume_question(run, self.progress(run)), lambda: self.resume(run))

    def action_retry_failed(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.ask_retry(run)

    @work(group="runs-action", exit_on_error=False, description="read the run's failed tasks")
    async def ask_retry(self, run: Any) -> None:
        planned = await asyncio.to_thread(runs_adapter.retry_plan, services(self).settings, run.id)
        if planned is None:
            self.notify(f"Run {run.id} has no failed or lost task to retry.", title="Runs")
            return
        retry, question = planned
        confirm(self.app, "Retry failed tasks", question, lambda: self.retry(run, retry))

    def action_clean(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.ask_clean(run)

    @work(group="runs-action", exit_on_error=False, description="list the run's products on storage")
    async def ask_clean(self, run: Any) -> None:
        """Clean's preview: each product on storage, keep or remove, its size, the totals; removal once confirmed."""
        try:
            run, products = await asyncio.to_thread(runs_adapter.stored_products, services(self).settings, run.id)
        except SrcnetError as exc:
            self.notify(error_line(exc), title="Clean", severity="warning")
            return
        self.footprints[run.id] = runs_adapter.footprint(products)
        self._show()
        if not any(p.action == "remove" for p in products):
            self.notify(f"Run {run.id}: nothing to remove ({self.footprints[run.id]} kept/removable).", title="Clean")
            return
        question = runs_adapter.clean_question(run, products)
        confirm(self.app, f"Clean run {run.id}", question, lambda: self.clean(run, products))

    @work(group="runs-action", exit_on_error=False, description="clean the run")
    async def clean(self, run: Any, products: list[Any]) -> None:
        """Remove the products marked remove; a kept product that no longer matches its copy stops it (one line)."""
        try:
            said = await asyncio.to_thread(runs_adapter.clean_stored_run, services(self).settings, run, products)
        except SrcnetError as exc:
            self.notify(error_line(exc), title="Not cleaned", severity="error")
        else:
            self.notify(said, title="Clean")
        self.footprints.pop(run.id, None)
        await self.refresh_ledger()

    # ---- driving runs ----------------------------------------------------------------------------

    @work(group="runs-launch", exit_on_error=False, description="retry the run's failed tasks")
    async def retry(self, run: Any, retry: Any) -> None:
        self.notify(f"Retrying the failed tasks of {run.id}…", title="Runs")
        reporter = runs_adapter.NotifyingReporter(self.app)
        await self._drive(
            runs_adapter.retry_failed_tasks(services(self).settings, run.id, retry, reporter), reporter, f"Run {run.id}"
        )

    @work(group="runs-launch", exit_on_error=False, description="resume the run")
    async def resume(self, run: Any) -> None:
        self.notify(f"Resuming {run.id}…", title="Runs")
        reporter = runs_adapter.NotifyingReporter(self.app)
        await self._drive(runs_adapter.resume_existing_run(services(self).settings, run.id, reporter), reporter, f"Run {run.id}")

    @work(group="runs-launch", exit_on_error=False, description="launch the run")
    async def launch(self, draft: ConfigDraft) -> None:
        """Launch the form's config (saving its edits first) and drive the run to its end."""
        if draft.edited:
            await asyncio.to_thread(save_draft, draft)
        self.notify(f"Launching {draft.path.name} [{draft.section}]…", title="Runs")
        reporter = runs_adapter.NotifyingReporter(self.app)
        launching = runs_adapter.launch_run(services(self).settings, draft.path, draft.section, draft.kind, reporter)
        await self._drive(launching, reporter, "Launch")

    @work(group="runs-launch", exit_on_error=False, description="launch the workload")
    async def launch_workload(self, config: Any) -> None:
        """Launch a workload file's run (a Job/CronJob manifest or a submit file) and drive it to its end."""
        self.notify(f"Launching {config.path.name} [{config.section}]…", title="Runs")
        reporter = runs_adapter.NotifyingReporter(self.app)
        await self._drive(runs_adapter.launch_config(services(self).settings, config, reporter), reporter, "Launch")

    async def _drive(self, call: Awaitable[str], reporter: runs_adapter.NotifyingReporter, title: str) -> None:
        """Await a launch or resume, which drives the run to its end; the outcome becomes a notification,
        or a modal for a blocking problem. A run that lost the platform is resumed once it answers again."""
        try:
            message = await call
        except Unreachable as exc:
            self.notify(self._lost_platform(reporter, exc), title=title, severity="warning")
        except SrcnetError as exc:
            services(self).show_problem(title, str(exc), type(exc))
        else:
            self.notify(message, title=title)
        await self.refresh_ledger()

    def _lost_platform(self, reporter: runs_adapter.NotifyingReporter, exc: Unreachable) -> str:
        """What to say of a run whose driver lost the platform; a run the ledger has is resumed later."""
        if not reporter.run_id:
            return error_line(exc)
        self.interrupted.add(reporter.run_id)
        return f"Run {reporter.run_id} lost the platform (its sessions go on); it resumes when the platform answers."

    def _resume_interrupted(self) -> None:
        """The platform answers again: take up the runs whose driver lost it."""
        for run_id in sorted(self.interrupted):
            self.interrupted.discard(run_id)
            if run_id in self.runs:
                self.resume(self.runs[run_id])
