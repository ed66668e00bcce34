"""The Runs pane: edit a run's config.ini with live validation, preview its plan, launch; the ledger.

The top half edits one section of a config file: each field is checked by core as you type (a
hidden copy of the section is validated, see :mod:`srcnet_tui.tui.run_config`), and when the section is valid
the plan core would launch is shown (tasks, regions, cores and RAM). The bottom half lists the runs
of the ledger with their progress; ``r`` resumes the selected run, ``enter`` shows its folder.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static
from textual.widgets.input import Selection

from srcnet_tui.core.errors import SrcnetError, Unreachable
from srcnet_tui.core.models import PENDING
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.plan import plan_run
from srcnet_tui.tui import runs_adapter
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.platform import error_line
from srcnet_tui.tui.run_config import EDITABLE, ConfigDraft, check_draft, open_draft, save_draft
from srcnet_tui.tui.screens.modals import TextModal, confirm, prompt
from srcnet_tui.tui.widgets.keyed_table import KeyedTable

PLAN_COLUMNS = (("index", "#"), ("cores", "Cores"), ("ram", "RAM GB"), ("work", "Region or parameter file"))
LEDGER_COLUMNS = (
    ("id", "Run (UTC start)"), ("kind", "Kind"), ("phase", "Phase"),
    ("waiting", "Waiting"), ("running", "Running"), ("done", "Done"), ("failed", "Failed"),
)  # fmt: skip
LEDGER_REFRESH_S = 3.0
CHECK_DELAY_S = 0.25


def shown_path(path: Path) -> str:
    """A path as short as it can be said: relative to the current folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


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
    poll (None: not seen yet). A launched task counts as running only once its session has started."""
    started = sum(1 for status in launched_statuses if status not in (None, PENDING))
    not_started = counts.get(L.LAUNCHED, 0) - started
    return Progress(
        waiting=counts.get(L.PLANNED, 0) + counts.get(L.LAUNCHING, 0) + not_started,
        running=started,
        done=sum(counts.get(state, 0) for state in L.SUCCESS_STATES),
        failed=counts.get(L.FAILED, 0) + counts.get(L.LOST, 0),
    )


def ledger_row(run: Any, progress: Progress) -> tuple:
    phase_style = {"failed": "bold red", "done": "green", "finished": "green"}.get(run.phase, "")
    return (
        run.id, run.kind, Text(run.phase, style=phase_style), str(progress.waiting),
        Text(str(progress.running), style="bold green" if progress.running else ""), str(progress.done),
        Text(str(progress.failed), style="bold red" if progress.failed else ""),
    )  # fmt: skip


def plan_rows(plan: Any) -> dict[str, tuple]:
    """One row per task: its size, and what it works on (a split's region, or its own parameter file)."""
    return {
        str(task.index): (
            str(task.index),
            str(task.cores),
            str(task.ram_gb),
            str(task.region) if task.region else Path(task.par_file).name,
        )  # fmt: skip
        for task in plan.tasks
    }


def plan_summary(plan: Any) -> Text:
    """Totals, what runs where, and the plan's warnings, above the table of tasks."""
    cores = sum(t.cores for t in plan.tasks)
    ram = sum(t.ram_gb for t in plan.tasks)
    what = f"{plan.config.finder} on {plan.input_data.rsplit('/', 1)[-1]}"
    if plan.grid:
        what += f" cut {'×'.join(map(str, plan.grid))}"
    text = Text.assemble(
        (plural(len(plan.tasks), "task"), "bold"), f" · {cores} cores · {ram} GB RAM in all\n",
        what, (f" · {plan.image.rsplit('/', 1)[-1]}\n→ ", "dim"), plan.output_dir,
    )  # fmt: skip
    for warning in plan.warnings:
        text.append(f"\n⚠ {warning}", style="yellow")
    return text


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def launch_question(plan: Any, draft: ConfigDraft, backend: str) -> str:
    """What the launch confirmation asks: how many sessions, how big, where, from which file."""
    first = plan.tasks[0]
    image = "" if backend == "local" else f" of {plan.image}"  # the local server runs no containers
    text = (
        f"Launch {plural(len(plan.tasks), 'session')} ({plural(first.cores, 'core')}, {first.ram_gb} GB RAM each)"
        f"{image} on the {backend} backend,\nfrom {draft.path.name} [{draft.section}]?"
    )
    return text + ("\nYour edits are saved to the file first." if draft.edited else "")


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


class RunsPane(Vertical):
    """Config editor + plan preview on top, ledger of runs below."""

    BINDINGS = keys(
        "runs",
        ("o", "open", "Open"),
        ("e", "edit", "Edit"),
        ("escape", "leave_form", "Done editing", False),
        ("down", "field(1)", "Next field", False, "next-field"),
        ("up", "field(-1)", "Previous field", False, "previous-field"),
        ("t", "kind", "Task/parallel", False),
        ("ctrl+s", "save", "Save"),
        ("L", "launch", "Launch"),
        ("r", "resume", "Resume"),
        ("u", "usage", "Usage"),
        ("s", "sessions", "Sessions"),
        ("enter", "run_folder", "Run folder", False, "folder"),
        ("ctrl+r", "refresh", "Refresh runs", False),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.draft: ConfigDraft | None = None
        self.config: Any = None
        self.plan: Any = None
        self.kind = "parallel"
        self.runs: dict[str, Any] = {}
        self.launched: dict[str, list[str]] = {}
        """Run id -> session ids of its launched tasks (from the ledger)."""
        self.session_status: dict[str, str] = {}
        """Session id -> status, from the Sessions pane's last poll."""
        self.interrupted: set[str] = set()
        """Runs this app drove until the platform stopped answering; resumed at the next good poll."""
        self.problem: str | None = None
        """What core said is wrong with the config being edited (None when it is valid)."""

    def compose(self) -> ComposeResult:
        yield Static("No config open: press o to open a config.ini", id="runs-config-line")
        with Horizontal(id="runs-editor"):
            with Vertical(id="runs-form-box"):
                yield VerticalScroll(id="runs-form")
                yield Static(id="runs-error")
            with Vertical(id="runs-plan-box"):
                yield Static(id="runs-plan-summary")
                yield KeyedTable(PLAN_COLUMNS, id="runs-plan", cursor_type="none")
        yield KeyedTable(LEDGER_COLUMNS, id="runs-ledger")

    def on_mount(self) -> None:
        self.query_one("#runs-ledger").border_title = "Runs (ledger)"
        self.query_one("#runs-plan-box").border_title = "Plan"
        self.query_one("#runs-form-box").border_title = "Config"
        self.ledger_loop()

    @property
    def ledger(self) -> KeyedTable:
        return self.query_one("#runs-ledger", KeyedTable)

    # ---- the ledger ----------------------------------------------------------------------------

    @work(exclusive=True, group="runs-ledger", exit_on_error=False, description="read the run ledger")
    async def ledger_loop(self) -> None:
        while True:
            await self.refresh_ledger()
            await asyncio.sleep(LEDGER_REFRESH_S)

    async def refresh_ledger(self) -> None:
        try:
            runs, self.launched = await asyncio.to_thread(runs_adapter.read_ledger, self.app.settings)
        except Exception as exc:  # a locked or broken ledger must not end the loop
            self.query_one("#runs-ledger").border_subtitle = error_line(exc)
            return
        self.runs = {run.id: run for run in runs}
        self._show_ledger()
        self.ledger.border_subtitle = f"{plural(len(runs), 'run')} · enter folder · s sessions · r resume · u usage"

    def sessions_polled(self, sessions: list[Any]) -> None:
        """A poll of the Sessions pane: launched tasks whose session started now count as running."""
        self.session_status = {s.id: s.status for s in sessions}
        self._resume_interrupted()
        if self.launched:
            self._show_ledger()

    def progress(self, run: Any) -> Progress:
        statuses = [self.session_status.get(sid) for sid in self.launched.get(run.id, [])]
        return run_progress(run.counts, statuses)

    def _show_ledger(self) -> None:
        stats = self.ledger.sync({run.id: ledger_row(run, self.progress(run)) for run in self.runs.values()})
        if stats.added:  # newest first, as the ledger lists them (run ids sort by time)
            self.ledger.sort("id", reverse=True)

    def action_refresh(self) -> None:
        self.run_worker(self.refresh_ledger(), group="runs-ledger-now")

    def _selected_run(self) -> Any | None:
        key = self.ledger.current_key
        return self.runs.get(key) if key else None

    @on(DataTable.RowSelected, "#runs-ledger")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_run_folder()

    def action_run_folder(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.show_run(run)

    @work(group="runs-action", exit_on_error=False)
    async def show_run(self, run: Any) -> None:
        body = await asyncio.to_thread(runs_adapter.describe_run, self.app.settings, run)
        self.app.push_screen(TextModal(f"Run {run.id}", body))

    def action_sessions(self) -> None:
        """The selected run's sessions: the Sessions pane filtered by the run id (in every session name)."""
        run = self._selected_run()
        if run is None:
            return
        self.app.query_one("#sessions-pane").apply_filter(run.id)
        self.app.show_pane("sessions")

    def action_usage(self) -> None:
        """The selected run's usage in the Usage pane: its profile logs, with the cores its tasks requested."""
        run = self._selected_run()
        if run is None:
            return
        self.app.query_one("#usage-pane").open_run(run)
        self.app.show_pane("usage")

    def action_resume(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        confirm(self.app, "Resume run", resume_question(run, self.progress(run)), lambda: self.resume(run))

    @work(group="runs-launch", exit_on_error=False)
    async def resume(self, run: Any) -> None:
        self.notify(f"Resuming {run.id}…", title="Runs")
        reporter = runs_adapter.NotifyingReporter(self.app)
        await self._drive(runs_adapter.resume_existing_run(self.app.settings, run.id, reporter), reporter, f"Run {run.id}")

    async def _drive(self, call, reporter: runs_adapter.NotifyingReporter, title: str) -> None:
        """Await a launch or resume, which drives the run to its end; the outcome becomes a notification,
        or a modal for a blocking problem. A run that lost the platform is resumed once it answers again."""
        try:
            message = await call
        except Unreachable as exc:
            if reporter.run_id:
                self.interrupted.add(reporter.run_id)
                message = f"Run {reporter.run_id} lost the platform (its sessions go on); it resumes when the platform answers."
            self.notify(message if reporter.run_id else error_line(exc), title=title, severity="warning")
        except SrcnetError as exc:
            self.app.show_problem(title, str(exc), type(exc))
        except Exception as exc:
            self.notify(error_line(exc), title=title, severity="error")
        else:
            self.notify(message, title=title)
        await self.refresh_ledger()

    def _resume_interrupted(self) -> None:
        """The platform answers again: take up the runs whose driver lost it."""
        for run_id in sorted(self.interrupted):
            self.interrupted.discard(run_id)
            if run_id in self.runs:
                self.resume(self.runs[run_id])

    # ---- the config editor ----------------------------------------------------------------------

    def action_open(self) -> None:
        start = str(self.draft.path) if self.draft else "config.ini"

        def ask() -> None:
            prompt(
                self.app, "Open a run configuration (config.ini)", start, lambda path: self.open_config(Path(path).expanduser())
            )

        self._unless_edits_would_be_lost(ask)

    def _unless_edits_would_be_lost(self, then) -> None:
        """``then()`` at once, or after the user agreed to drop edits the file does not hold yet."""
        if self.draft is None or not self.draft.edited:
            then()
            return
        body = f"Your edits to {self.draft.path.name} [{self.draft.section}] are not saved (ctrl+s saves them).\nDrop them?"
        confirm(self.app, "Unsaved edits", body, then)

    def action_edit(self) -> None:
        """Into the form (up/down or tab/shift+tab move between fields; escape leaves)."""
        fields = self.query(".field-row Input")
        if fields:
            self.call_after_refresh(self.edit_field, fields.first())

    def action_field(self, step: int) -> None:
        """Up/down between the form's fields (the ledger table moves its own cursor first)."""
        fields = list(self.query(".field-row Input"))
        focused = self.app.focused
        if focused in fields:
            self.edit_field(fields[(fields.index(focused) + step) % len(fields)])

    def edit_field(self, field: Input) -> None:
        """Focus a field with its text selected, so that typing replaces it and an arrow key keeps it.

        Done at once (``focus()`` waits for a refresh, and a select-on-focus then would swallow the
        first keys typed): the keys that follow go to this field.
        """
        self.screen.set_focus(field)
        field.selection = Selection(0, len(field.value))

    def action_leave_form(self) -> None:
        self.ledger.focus()

    def action_kind(self) -> None:
        self._unless_edits_would_be_lost(self._switch_kind)

    def _switch_kind(self) -> None:
        self.kind = "task" if self.kind == "parallel" else "parallel"
        if self.draft:
            self.open_config(self.draft.path)
        else:
            self._show_config_line()

    @work(exclusive=True, group="runs-open", exit_on_error=False)
    async def open_config(self, path: Path) -> None:
        try:
            self.draft, self.config = await asyncio.to_thread(open_draft, path, self.kind)
        except SrcnetError as exc:
            self.app.show_problem("Cannot open the configuration", str(exc), type(exc))
            return
        await self._build_form()
        self._show_config_line()
        self.action_edit()
        self._show_check(None)
        await self.preview()

    async def _build_form(self) -> None:
        form = self.query_one("#runs-form", VerticalScroll)
        await form.remove_children()
        rows = []
        for key in EDITABLE:
            effective, note = self.draft.shown.get(key, ("", ""))
            field = Input(
                self.draft.field_value(key), placeholder=effective or note, id=f"field-{key}", compact=True, select_on_focus=False
            )
            field.tooltip = note or None
            rows.append(Horizontal(Label(key, classes="field-label"), field, classes="field-row"))
        await form.mount_all(rows)

    def _show_config_line(self) -> None:
        if self.draft is None:
            text = Text(f"No config open ({self.kind}): press o to open a config.ini, t for task/parallel")
        else:
            text = Text.assemble(
                (shown_path(self.draft.path), "bold"), f" [{self.draft.section}] · {self.kind}",
                (" · e edits, ↑↓ fields, escape done, L launches", "dim"),
            )  # fmt: skip
        self.query_one("#runs-config-line", Static).update(text)

    @on(Input.Changed, ".field-row Input")
    def _field_changed(self, event: Input.Changed) -> None:
        if self.draft is None:
            return
        self.draft.set_field(event.input.id.removeprefix("field-"), event.value)
        self.check()

    @work(exclusive=True, group="runs-check", exit_on_error=False)
    async def check(self) -> None:
        """Validate the draft with core (after a short pause in typing), then preview the plan."""
        await asyncio.sleep(CHECK_DELAY_S)
        draft = replace(self.draft, values=dict(self.draft.values))
        try:
            self.config = await asyncio.to_thread(check_draft, draft)
        except SrcnetError as exc:
            self.config = self.plan = None
            self._show_check(exc)
            self.query_one("#runs-plan-summary", Static).update(Text("fix the config to see the plan", style="dim"))
            self.query_one("#runs-plan", KeyedTable).sync({})
            return
        self._show_check(None)
        await self.preview()

    def _show_check(self, error: Exception | None) -> None:
        for field in self.query(".field-row Input"):
            field.remove_class("error")
        box = self.query_one("#runs-error", Static)
        self.problem = None if error is None else str(error)
        if error is None:
            box.update(Text("✓ valid", style="green"))
            return
        box.update(Text(f"✗ {error}", style="bold red"))
        for key in EDITABLE:
            if f"] {key}:" in str(error):
                self.query_one(f"#field-{key}").add_class("error")

    async def preview(self) -> None:
        """Show the plan core would launch for the current (valid) config."""
        summary = self.query_one("#runs-plan-summary", Static)
        config = self.config
        try:
            context = await runs_adapter.platform_context(self.app.platform)
            plan, problem = await asyncio.to_thread(plan_run, config, "preview", context=context), None
        except SrcnetError as exc:
            plan, problem = None, exc
        if config is not self.config:
            return  # edited meanwhile: the check of the newer values shows its own preview
        self.plan = plan
        if problem is not None:
            summary.update(Text(f"✗ {problem}", style="bold red"))
            self.query_one("#runs-plan", KeyedTable).sync({})
            return
        summary.update(plan_summary(plan))
        self.query_one("#runs-plan", KeyedTable).sync(plan_rows(plan))

    def action_save(self) -> None:
        if self.draft is not None and self.config is not None:
            self.save()
        elif self.draft is not None:
            self.notify("Fix the errors before saving.", severity="warning", title="Not saved")

    @work(group="runs-save", exit_on_error=False)
    async def save(self) -> None:
        try:
            await asyncio.to_thread(save_draft, self.draft)
        except OSError as exc:
            self.notify(f"{self.draft.path}: {exc.strerror or exc}", title="Not saved", severity="error")
            return
        self.notify(f"Saved [{self.draft.section}] to {self.draft.path}.", title="Config")

    def action_launch(self) -> None:
        if self.draft is None or self.config is None or self.plan is None:
            self.notify("Open a valid config first (o).", title="Launch", severity="warning")
            return
        confirm(self.app, "Launch run", launch_question(self.plan, self.draft, self.app.settings.backend), self.launch)

    @work(group="runs-launch", exit_on_error=False)
    async def launch(self) -> None:
        draft = self.draft
        if draft.edited:
            await asyncio.to_thread(save_draft, draft)
        self.notify(f"Launching {draft.path.name} [{draft.section}]…", title="Runs")
        reporter = runs_adapter.NotifyingReporter(self.app)
        launching = runs_adapter.launch_run(self.app.settings, draft.path, draft.section, draft.kind, reporter)
        await self._drive(launching, reporter, "Launch")
