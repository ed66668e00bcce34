"""Core's run reporter turned into app notifications: how a run the TUI drives tells its user what happens.

A module of its own so that :mod:`srcnet_tui.tui.runs_adapter` stays light to import: a core
:class:`~srcnet_tui.core.runs.scope.Reporter` brings the ledger and the client with it.
"""

from __future__ import annotations

from typing import Any

from srcnet_tui.core.runs.scope import Reporter


class NotifyingReporter(Reporter):
    """Core's run reporter turned into app notifications (called on the app's loop).

    Phases are not announced: the ledger table shows them; only the start, failures and warnings
    are. ``run_id`` is the run being driven, once the ledger has it (a failed launch may not).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.run_id: str | None = None

    def _say(self, message: str, severity: str = "information", title: str = "Run") -> None:
        self.app.notify(message, title=title, severity=severity)

    def run_started(self, run: Any) -> None:
        self.run_id = run.id
        self._say(f"Run {run.id}: driving its {run.tasks} task(s) from here until it ends.")

    def task_failed(self, task: Any, tail: list[str]) -> None:
        last = tail[-1] if tail else task.message or ""
        self._say(f"Task {task.index} ({task.name}) failed: {last}", "error")

    def notice(self, message: str) -> None:
        if message.startswith("warning"):
            self._say(message, "warning")
