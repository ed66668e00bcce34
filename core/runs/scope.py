"""What every step of a run works with: the ledger, storage, the recorded run and its reporter.

The steps are async because they wait on the platform, but the ledger (SQLite) and storage block,
so a step reaches the ledger only through :class:`RunScope`, which calls it in a worker thread
(``asyncio.to_thread``). The reporter is called on the event loop's thread only: the TUI's reporter
updates the app directly, on the app's own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.ledger import Ledger, RunRecord, TaskRecord
from srcnet_tui.core.runs.spec import RunPlan
from srcnet_tui.core.runs.storage import Storage

P = ParamSpec("P")
R = TypeVar("R")


class Reporter:
    """How a run tells its user what happens; the CLI prints, the TUI notifies. Override freely."""

    def run_started(self, run: RunRecord) -> None:
        pass

    def phase(self, run_id: str, phase: str) -> None:
        pass

    def task_changed(self, task: TaskRecord) -> None:
        pass

    def task_failed(self, task: TaskRecord, tail: list[str]) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    def uploads(self, sizes: list[int]) -> None:
        """The run is about to stage files of these sizes (bytes), in this order."""

    def uploading(self, local: Path, size: int) -> None:
        """One of them starts; the next ``uploading`` (or a notice) means it ended."""


@dataclass(frozen=True)
class RunScope:
    """One recorded run being driven: its plan and folders never change once it is in the ledger."""

    ledger: Ledger
    storage: Storage
    run_id: str
    plan: RunPlan
    local_dir: Path  # where the run's products come back to on this machine
    remote_dir: str  # the run's folder on storage
    backend: str | None
    reporter: Reporter = field(default_factory=Reporter)

    @classmethod
    async def open(cls, ledger: Ledger, storage: Storage, run_id: str, reporter: Reporter | None = None) -> RunScope:
        run = await asyncio.to_thread(ledger.run, run_id)
        if run.plan is None or run.local_dir is None or run.remote_dir is None:
            raise UsageError(f"run {run_id}: the ledger has no plan for it; it cannot be driven")
        return cls(ledger, storage, run_id, run.plan, Path(run.local_dir), run.remote_dir, run.backend, reporter or Reporter())

    async def record(self, change: Callable[Concatenate[str, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call a ledger method of this run (``change(run_id, ...)``) off the event loop."""
        return await asyncio.to_thread(change, self.run_id, *args, **kwargs)

    async def run(self) -> RunRecord:
        return await self.record(self.ledger.run)

    async def tasks(self, *states: str) -> list[TaskRecord]:
        """The run's tasks in any of ``states`` (all of them when none are given), by index."""
        return await self.record(self.ledger.tasks, states or None)

    async def phase(self, phase: str, finished: bool = False) -> None:
        await self.record(self.ledger.set_phase, phase, finished=finished)
        self.reporter.phase(self.run_id, phase)

    async def changed(self, index: int) -> TaskRecord:
        """Read a task again after a change and report it."""
        task = await self.record(self.ledger.task, index)
        self.reporter.task_changed(task)
        return task
