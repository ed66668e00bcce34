"""Launching and reconciling: create each planned task's session exactly once, even across crashes.

Each create is preceded by a committed ``launching`` record carrying the task's deterministic
session name, and followed by ``launched`` with the session id. Launches are concurrent, bounded by
a semaphore only (the platform schedules). On resume, :meth:`Launcher.reconcile` settles tasks a
killed process left in ``launching``: a session of that name is adopted, a task that wrote its
results is finished from them, anything else goes back to ``planned``; ``lost`` tasks are
relaunched under their next attempt's name (the lost attempt's files kept apart first).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.models import Session
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.attempts import keep_attempt_files
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.preflight import first_refusal
from srcnet_tui.core.runs.scope import RunScope
from srcnet_tui.core.runs.watching import finish_from_outputs, read_verdict
from srcnet_tui.core.skaha import SkahaClient

LAUNCH_CONCURRENCY = 16
ADOPTION_GRACE_S = {"local": 1.0, "canfar": 10.0}
"""A create sent just before a crash may still be in flight at the server; wait this long after it was
sent before deciding it never arrived (the local server acts within milliseconds)."""


@dataclass(frozen=True)
class Launcher:
    """Creates the sessions of one run's planned tasks, and settles what a crash left half done."""

    scope: RunScope
    client: SkahaClient
    concurrency: int = LAUNCH_CONCURRENCY

    async def launch_pending(self, limit: int | None = None) -> int:
        """Launch tasks still ``planned`` (at most ``limit``), concurrently; stop at the first hard error."""
        pending = (await self.scope.tasks(L.PLANNED))[:limit]
        if not pending:
            return 0
        await self.scope.phase("launching")
        await self._validate(pending)
        gate = asyncio.Semaphore(self.concurrency)

        async def launch(task: TaskRecord) -> None:
            async with gate:
                await self._launch_one(task)

        results = await asyncio.gather(*(launch(t) for t in pending), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return len(pending)

    async def free_slots(self) -> int | None:
        """How many more tasks the user's ``max_parallel`` lets run now; None: no cap."""
        cap = self.scope.plan.max_parallel
        if cap is None:
            return None
        return max(cap - len(await self.scope.tasks(L.LAUNCHING, L.LAUNCHED)), 0)

    async def _validate(self, tasks: list[TaskRecord]) -> None:
        """Refuse before launching anything if any task would be refused (exit 2, nothing created)."""
        refusal = await first_refusal(self.client, [t.launch_spec() for t in tasks])
        if refusal:
            task = tasks[refusal[0]]
            raise UsageError(f"{task_label(task.index)} ({task.name}): {refusal[1]}")

    async def _launch_one(self, task: TaskRecord) -> None:
        task = await self.scope.record(self.scope.ledger.mark_launching, task.index)
        self.scope.reporter.task_changed(task)
        session_ids = await self.client.create(task.launch_spec())
        await self.scope.record(self.scope.ledger.mark_launched, task.index, session_ids[0])
        await self.scope.changed(task.index)

    async def reconcile(self) -> None:
        """Settle tasks a killed process left in ``launching``; put lost tasks back in the queue."""
        stuck = await self.scope.tasks(L.LAUNCHING)
        if stuck:
            newest = max(t.launching_at or 0 for t in stuck)
            grace = ADOPTION_GRACE_S.get(self.scope.backend or "canfar", max(ADOPTION_GRACE_S.values()))
            wait = newest + grace - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            by_name = _sessions_by_name(await self.client.list_sessions())
            for task in stuck:
                await self._settle_stuck(task, by_name.get(task.name.lower(), []))
        for task in await self.scope.tasks(L.LOST):
            files = await asyncio.to_thread(keep_attempt_files, self.scope.storage, task, self.scope.local_dir)
            await self.scope.record(self.scope.ledger.plan_retry, [task.spec], {task.index: files})
            self.scope.reporter.notice(
                f"{task_label(task.index)}: {task.name} was lost; relaunching as attempt {task.attempt + 1}"
            )
            await self.scope.changed(task.index)

    async def _settle_stuck(self, task: TaskRecord, sessions: list[Session]) -> None:
        scope = self.scope
        if sessions:
            session = min(sessions, key=lambda s: (s.start_time is None, s.start_time.timestamp() if s.start_time else 0.0))
            await scope.record(scope.ledger.mark_launched, task.index, session.id)
            scope.reporter.notice(f"{task_label(task.index)}: adopted session {session.id} ({task.name})")
        elif await asyncio.to_thread(read_verdict, scope.storage, task, scope.local_dir) is not None:
            await finish_from_outputs(scope, task, session_status=None)
            return
        else:
            await scope.record(scope.ledger.mark_planned, task.index)
        await scope.changed(task.index)


def _sessions_by_name(sessions: list[Session]) -> dict[str, list[Session]]:
    by_name: dict[str, list[Session]] = {}
    for session in sessions:
        by_name.setdefault(session.name.lower(), []).append(session)
    return by_name
