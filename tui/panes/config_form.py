"""The Runs pane's upper half: edit one section of a run's config.ini, checked by core as you type,
and preview the plan core would launch; or open a workload file (a Kubernetes Job/CronJob, an
HTCondor submit file) and preview its plan.

Each field is checked by core after a short pause in typing (a hidden copy of the section is
validated, see :mod:`srcnet_tui.tui.run_config`), then planned with every check ``--dry-run`` and
the run make (the platform's options and launch rules, /arc inputs, size limits): "valid" means the
run would not refuse it. An error names its key (``UsageError.key``) and that field is marked. When
the section is valid the plan is shown: tasks, regions or commands, cores, RAM and estimated size.
A section's fields are its workload kind's keys (a command's program, arguments, inputs and
products; a finder's cube and parameter files). The form's own keys move between its fields and
leave it; opening, saving and launching are the pane's keys, which work wherever the focus is in
the pane.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static
from textual.widgets.input import Selection

from srcnet_tui.core.errors import SrcnetError, UsageError
from srcnet_tui.core.runs.sizing import gib
from srcnet_tui.tui import runs_adapter
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.run_config import ConfigDraft, check_draft, open_draft, save_draft
from srcnet_tui.tui.screens.modals import TextModal, confirm, prompt
from srcnet_tui.tui.services import services
from srcnet_tui.tui.widgets.keyed_table import KeyedTable
from srcnet_tui.tui.wording import plural, shown_path
from srcnet_tui.tui.worker_errors import ReportsWorkerErrors

PLAN_COLUMNS = (("index", "#"), ("cores", "Cores"), ("ram", "RAM GiB"), ("work", "Region, parameter file or command"))
FINDER_RUNS = ("task", "parallel", "split")
OPEN_TITLE = "Open a config.ini, a Kubernetes Job/CronJob (.yaml, then any NAME=/arc/PATH mounts) or an HTCondor submit file"
CHECK_DELAY_S = 0.25


def task_work(task: Any) -> str:
    """What a task works on: a split's region, its own parameter file, or its command line."""
    if task.region:
        return str(task.region)
    return Path(task.par_file).name if task.par_file else shlex.join(task.command_line)


def plan_rows(plan: Any) -> dict[str, tuple]:
    """One row per task: its size, and what it works on."""
    return {str(task.index): (str(task.index), str(task.cores), str(task.ram_gb), task_work(task)) for task in plan.tasks}


def plan_summary(plan: Any) -> Text:
    """Totals, what runs where, and the plan's warnings, above the table of tasks."""
    cores = sum(t.cores for t in plan.tasks)
    ram = sum(t.ram_gb for t in plan.tasks)
    what = f"{plan.config.finder} on {plan.input_data.rsplit('/', 1)[-1]}" if plan.run_kind in FINDER_RUNS else plan.run_kind
    if plan.grid:
        what += f" cut {'×'.join(map(str, plan.grid))}"
    text = Text.assemble(
        (plural(len(plan.tasks), "task"), "bold"), f" · {cores} cores · {ram} GiB RAM in all\n",
        what, (f" · {plan.image.rsplit('/', 1)[-1]}\n→ ", "dim"), plan.output_dir,
    )  # fmt: skip
    if plan.estimate:
        text.append(f"\n≈ {gib(plan.estimate.total_bytes)} of products (p: per task)")
    for warning in plan.warnings:
        text.append(f"\n⚠ {warning}", style="yellow")
    env = runs_adapter.task_env_lines(plan.tasks[0]) if plan.tasks else []
    if env:
        text.append(f"\nenv: {', '.join(env)}", style="dim")
    return text


def launch_question(plan: Any, backend: str, draft: ConfigDraft | None = None) -> str:
    """What the launch confirmation asks: how many sessions, how big, where, from which file."""
    first = plan.tasks[0]
    image = "" if backend == "local" else f" of {plan.image}"  # the local server runs no containers
    text = (
        f"Launch {plural(len(plan.tasks), 'session')} ({plural(first.cores, 'core')}, {first.ram_gb} GiB RAM each)"
        f"{image} on the {backend} backend,\nfrom {plan.config.path.name} [{plan.config.section}]?"
    )
    return text + ("\nYour edits are saved to the file first." if draft is not None and draft.edited else "")


def marked_field(error: SrcnetError, fields: tuple[str, ...], config: Any = None) -> str | None:
    """The form field an error concerns: the key core named, else the key whose ``file [section] key:``
    the message starts with (the launch checks say which key set a refused value), when the form has it."""
    key = error.key if isinstance(error, UsageError) else None
    if key is None and config is not None:
        key = next((k for k in fields if str(error).startswith(f"{config.where(k)}:")), None)
    return key if key in fields else None


class FieldList(VerticalScroll, inherit_bindings=False):
    """The form's fields, scrolled to the focused one; ``up``/``down`` are the form's (next/previous
    field), not a scroll that would leave the focus on a field out of view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        b for b in VerticalScroll.BINDINGS if isinstance(b, Binding) and b.key not in ("up", "down")
    ]


class ConfigForm(ReportsWorkerErrors, Vertical):
    """Config line, the section's fields with core's verdict, and the plan of a valid section."""

    BINDINGS = keys(
        "runs",
        ("escape", "leave_form", "Done editing", False),
        ("down", "field(1)", "Next field", False, "next-field"),
        ("up", "field(-1)", "Previous field", False, "previous-field"),
    )

    class Done(Message):
        """The user left the form (``escape``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draft: ConfigDraft | None = None
        """The config.ini section being edited (None when none is, or a workload file is open)."""
        self.workload: Path | None = None
        """The workload file open instead (a Job/CronJob manifest or a submit file): previewed, not edited."""
        self.config: Any = None
        self.plan: Any = None
        self.kind = "parallel"
        self.problem: str | None = None
        """What core said is wrong with the config being edited (None when it is valid)."""

    def compose(self) -> ComposeResult:
        yield Static("No config open: press o to open a config.ini", id="runs-config-line")
        with Horizontal(id="runs-editor"):
            with Vertical(id="runs-form-box"):
                yield FieldList(id="runs-form")
                yield Static(id="runs-error")
            with Vertical(id="runs-plan-box"):
                yield Static(id="runs-plan-summary")
                yield KeyedTable(PLAN_COLUMNS, id="runs-plan", cursor_type="none")

    def on_mount(self) -> None:
        self.query_one("#runs-plan-box").border_title = "Plan"
        self.query_one("#runs-form-box").border_title = "Config"

    @property
    def launchable(self) -> bool:
        """Is a valid config or workload file open, with its plan?"""
        return (self.draft is not None or self.workload is not None) and self.config is not None and self.plan is not None

    # ---- opening --------------------------------------------------------------------------------

    def ask_open(self) -> None:
        """Ask which config.ini to open (after asking whether unsaved edits may go)."""
        start = str(self.draft.path) if self.draft else str(self.workload or "config.ini")

        def ask() -> None:
            prompt(self.app, OPEN_TITLE, start, self.open_file)

        self._unless_edits_would_be_lost(ask)

    def unsaved_edits(self) -> str | None:
        """What the user would lose: a sentence naming the file and section, or None when all is saved."""
        if self.draft is None or not self.draft.edited:
            return None
        return f"Your edits to {self.draft.path.name} [{self.draft.section}] are not saved (ctrl+s saves them)."

    def _unless_edits_would_be_lost(self, then: Any) -> None:
        """``then()`` at once, or after the user agreed to drop edits the file does not hold yet."""
        unsaved = self.unsaved_edits()
        if unsaved is None:
            then()
            return
        confirm(self.app, "Unsaved edits", f"{unsaved}\nDrop them?", then)

    def switch_kind(self) -> None:
        """Task or parallel: the section edited and the plan follow (unsaved edits asked about first)."""
        self._unless_edits_would_be_lost(self._switch_kind)

    def _switch_kind(self) -> None:
        self.kind = "task" if self.kind == "parallel" else "parallel"
        if self.draft:
            self.open_config(self.draft.path)
        else:
            self._show_config_line()

    def open_file(self, text: str) -> None:
        """What the opener was given: a config.ini, or a workload file with its volume mounts."""
        try:
            path, mounts = runs_adapter.opened_file(text)
        except UsageError as exc:
            services(self).show_problem("Cannot open the file", str(exc), type(exc))
            return
        if mounts or runs_adapter.is_workload_file(path):
            self.open_workload(path, mounts)
        else:
            self.open_config(path)

    @work(exclusive=True, group="runs-open", exit_on_error=False, description="open the workload file")
    async def open_workload(self, path: Path, mounts: dict[str, str]) -> None:
        try:
            self.config = await asyncio.to_thread(runs_adapter.read_workload, path, mounts)
        except SrcnetError as exc:
            services(self).show_problem("Cannot open the workload file", str(exc), type(exc))
            return
        self.draft, self.workload, self.plan = None, self.config.path, None
        form = self.query_one("#runs-form", FieldList)
        await form.remove_children()
        await form.mount(Static(Text(f"Read from {path.name}: edit the file and open it again (o) to change it.", style="dim")))
        self._show_config_line()
        await self.preview()

    @work(exclusive=True, group="runs-open", exit_on_error=False, description="open the configuration")
    async def open_config(self, path: Path) -> None:
        try:
            draft, self.config = await asyncio.to_thread(open_draft, path, self.kind)
        except SrcnetError as exc:
            services(self).show_problem("Cannot open the configuration", str(exc), type(exc))
            return
        self.draft, self.workload, self.plan = draft, None, None
        await self._build_form(draft)
        self._show_config_line()  # the focus stays where it was: ``e`` edits, ``L`` launches
        await self.preview()

    async def _build_form(self, draft: ConfigDraft) -> None:
        form = self.query_one("#runs-form", FieldList)
        await form.remove_children()
        rows = []
        for key in draft.keys:
            effective, note = draft.shown.get(key, ("", ""))
            field = Input(
                draft.field_value(key), placeholder=effective or note, id=f"field-{key}", compact=True, select_on_focus=False
            )
            field.tooltip = note or None
            rows.append(Horizontal(Label(key, classes="field-label"), field, classes="field-row"))
        await form.mount_all(rows)

    def _show_config_line(self) -> None:
        if self.workload is not None and self.config is not None:
            text = Text.assemble(
                (shown_path(self.workload), "bold"), f" [{self.config.section}] · {self.config.workload}",
                (" · p each task's command and env, L launches", "dim"),
            )  # fmt: skip
        elif self.draft is None:
            text = Text(f"No config open ({self.kind}): press o to open a config.ini, t for task/parallel")
        else:
            text = Text.assemble(
                (shown_path(self.draft.path), "bold"), f" [{self.draft.section}] · {self.kind}",
                (" · e edits, ↑↓ fields, escape done, p plan, L launches", "dim"),
            )  # fmt: skip
        self.query_one("#runs-config-line", Static).update(text)

    # ---- moving between fields -------------------------------------------------------------------

    @property
    def fields(self) -> list[Input]:
        return list(self.query(".field-row Input").results(Input))

    def edit(self) -> None:
        """Into the form (up/down or tab/shift+tab move between fields; escape leaves)."""
        fields = self.fields
        if fields:
            self.edit_field(fields[0])

    def action_field(self, step: int) -> None:
        """Up/down between the form's fields."""
        fields = self.fields
        focused = self.app.focused
        if isinstance(focused, Input) and focused in fields:
            self.edit_field(fields[(fields.index(focused) + step) % len(fields)])

    def edit_field(self, field: Input) -> None:
        """Focus a field with its text selected, so that typing replaces it and an arrow key keeps it.

        Done at once (``focus()`` waits for a refresh, and a select-on-focus then would swallow the
        first keys typed): the keys that follow go to this field, and it is scrolled into view.
        """
        self.screen.set_focus(field)
        self.query_one(FieldList).scroll_to_widget(field, animate=False, immediate=True)
        field.selection = Selection(0, len(field.value))

    def action_leave_form(self) -> None:
        self.post_message(self.Done())

    # ---- checking --------------------------------------------------------------------------------

    @on(Input.Changed, ".field-row Input")
    def _field_changed(self, event: Input.Changed) -> None:
        if self.draft is None:
            return
        self.draft.set_field((event.input.id or "").removeprefix("field-"), event.value)
        self.check()

    @work(exclusive=True, group="runs-check", exit_on_error=False, description="check the configuration")
    async def check(self) -> None:
        """Validate the draft with core (after a short pause in typing), then preview the plan."""
        await asyncio.sleep(CHECK_DELAY_S)
        if self.draft is None:
            return
        draft = replace(self.draft, values=dict(self.draft.values))
        try:
            self.config = await asyncio.to_thread(check_draft, draft)
        except SrcnetError as exc:
            self.config = self.plan = None
            self._refused(exc)
            return
        await self.preview()

    def _refused(self, error: SrcnetError) -> None:
        """The config would be refused: say why, mark its field, show no plan."""
        self._show_check(error)
        self.query_one("#runs-plan-summary", Static).update(Text("fix the config to see the plan", style="dim"))
        self.query_one("#runs-plan", KeyedTable).sync({})

    def _show_check(self, error: SrcnetError | None, unchecked: str | None = None) -> None:
        for field in self.fields:
            field.remove_class("error")
        box = self.query_one("#runs-error", Static)
        self.problem = None if error is None else str(error)
        if error is None:
            box.update(Text(f"✓ valid here; {unchecked}", style="yellow") if unchecked else Text("✓ valid", style="green"))
            return
        box.update(Text(f"✗ {error}", style="bold red"))
        if self.draft is None:
            return
        key = marked_field(error, self.draft.keys, self.config)
        if key is not None:
            self.query_one(f"#field-{key}").add_class("error")

    async def preview(self) -> None:
        """Plan the current config with every check of ``--dry-run``; show the plan, or what the run would refuse."""
        config = self.config
        try:
            plan, unchecked = await runs_adapter.checked_preview(services(self).platform, services(self).settings, config)
        except SrcnetError as exc:
            if config is self.config:
                self._refused(exc)
            return
        if config is not self.config:
            return  # edited meanwhile: the check of the newer values shows its own preview
        self.plan = plan
        self._show_check(None, unchecked)
        self.query_one("#runs-plan-summary", Static).update(plan_summary(plan))
        self.query_one("#runs-plan", KeyedTable).sync(plan_rows(plan))

    def show_details(self) -> None:
        """Each planned task's command line and env (secrets masked), cores, RAM and the estimated size."""
        if self.plan is None:
            self.notify("Open a valid config or workload file first (o).", title="Plan", severity="warning")
            return
        self.app.push_screen(
            TextModal(f"Plan of {self.plan.config.path.name} [{self.plan.config.section}]", runs_adapter.plan_details(self.plan))
        )

    # ---- saving ----------------------------------------------------------------------------------

    def save_edits(self) -> None:
        """Write the edits into the file, if core accepts them."""
        if self.draft is not None and self.config is not None:
            self.save(self.draft)
        elif self.draft is not None:
            self.notify("Fix the errors before saving.", severity="warning", title="Not saved")

    @work(group="runs-save", exit_on_error=False, description="save the configuration")
    async def save(self, draft: ConfigDraft) -> None:
        try:
            await asyncio.to_thread(save_draft, draft)
        except OSError as exc:
            self.notify(f"{draft.path}: {exc.strerror or exc}", title="Not saved", severity="error")
            return
        self.notify(f"Saved [{draft.section}] to {draft.path}.", title="Config")
