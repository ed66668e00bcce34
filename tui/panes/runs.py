"""The Runs pane: a run's config.ini edited with live validation and its plan (:class:`ConfigForm`),
above the ledger of runs (:class:`RunsLedger`).

The pane's own keys work wherever the focus is in it: open a config or a workload file, edit it,
switch task/parallel, save, see each task's command and env, and launch, which takes the form's
valid plan to the ledger that drives the run. The form's
keys (fields, escape) and the ledger's (the selected run) are theirs.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.panes.config_form import ConfigForm, launch_question
from srcnet_tui.tui.panes.runs_ledger import RunsLedger
from srcnet_tui.tui.screens.modals import confirm
from srcnet_tui.tui.services import services


class RunsPane(Vertical):
    """Config editor + plan preview on top, ledger of runs below."""

    BINDINGS = keys(
        "runs",
        ("o", "open", "Open"),
        ("e", "edit", "Edit"),
        ("t", "kind", "Task/parallel", False),
        ("ctrl+s", "save", "Save"),
        ("L", "launch", "Launch"),
        ("p", "plan_details", "Plan details", False),
        priority=("edit",),
    )
    PARTS = (ConfigForm, RunsLedger)
    """The widgets whose keys help lists with the pane's."""

    def compose(self) -> ComposeResult:
        yield ConfigForm(id="runs-config")
        yield RunsLedger(id="runs-ledger")

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    @property
    def ledger(self) -> RunsLedger:
        return self.query_one(RunsLedger)

    def sessions_polled(self, sessions: list[Any]) -> None:
        self.ledger.sessions_polled(sessions)

    def action_open(self) -> None:
        self.form.ask_open()

    def action_edit(self) -> None:
        """Into the form's first field, at once: the keys typed right after ``e`` are the field's."""
        if isinstance(self.screen.focused, Input):
            raise SkipAction  # an "e" typed in a field
        self.form.edit()

    def action_kind(self) -> None:
        self.form.switch_kind()

    def action_save(self) -> None:
        self.form.save_edits()

    def action_plan_details(self) -> None:
        if isinstance(self.screen.focused, Input):
            raise SkipAction  # a "p" typed in a field
        self.form.show_details()

    def action_launch(self) -> None:
        form = self.form
        if not form.launchable:
            self.notify("Open a valid config first (o).", title="Launch", severity="warning")
            return
        draft, config = form.draft, form.config
        question = launch_question(form.plan, services(self).settings.backend, draft)
        if draft is not None:
            confirm(self.app, "Launch run", question, lambda: self.ledger.launch(draft))
        else:
            confirm(self.app, "Launch run", question, lambda: self.ledger.launch_workload(config))

    @on(ConfigForm.Done)
    def _form_done(self, message: ConfigForm.Done) -> None:
        message.stop()
        self.ledger.focus()
