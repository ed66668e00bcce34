"""What the run ledger knows of a session that the platform does not say: its exit code, why it ended, when.

The platform lists a finished session with its status only; the ledger (``srcnet_tui.core.runs.ledger``)
has the task's exit code and message (from the recorder's summary once collected) and the time it
ended. The Sessions dashboard asks for the sessions it has no outcome of yet, in a thread (SQLite
blocks), and keeps the answers: an outcome, once written, does not change. The ledger's modules are
imported with the first lookup (in that thread), not before the app's first frame.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from srcnet_tui.core.settings import Settings

RECENT_RUNS = 50
"""How many of the newest runs a lookup reads (a session shown live belongs to a recent run)."""


@dataclass(frozen=True)
class Outcome:
    """A session's task as the ledger has it."""

    state: str
    exit_code: int | None
    message: str | None
    launched_at: float | None
    finished_at: float | None

    @property
    def cause(self) -> str:
        """One short line: the ledger's message, else the exit code, else the task's state."""
        if self.message:
            return self.message
        if self.exit_code is not None:
            return f"exit {self.exit_code}"
        return self.state


def ledger_outcomes(settings: Settings, session_ids: Collection[str]) -> dict[str, Outcome]:
    """Outcomes of the given sessions that the ledger has finished (no ledger yet: none)."""
    from srcnet_tui.core.runs.ledger import Ledger, ledger_path

    if not session_ids or not ledger_path(settings.state_dir).exists():
        return {}
    wanted = set(session_ids)
    found: dict[str, Outcome] = {}
    with Ledger(settings.state_dir) as ledger:
        for run in ledger.runs(RECENT_RUNS):
            for task in ledger.tasks(run.id):
                if task.session_id in wanted and task.finished:
                    found[task.session_id] = Outcome(task.state, task.exit_code, task.message, task.launched_at, task.finished_at)
    return found
