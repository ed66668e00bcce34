"""Watching: one session list per look at the platform, and each finished task's verdict.

A task's verdict comes from the recorder summary it wrote beside its profile log (SoFiA's exit 8 is
"no sources", a result); without one, from the session's last status. The session's log is
captured as soon as it ends, while Skaha still keeps it (about an hour), and a failed task is
reported with the last lines of its log. Downloads and file reads run in worker threads.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from srcnet_tui.core.errors import NotFound, SrcnetError
from srcnet_tui.core.models import Session
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.scope import RunScope
from srcnet_tui.core.runs.storage import Storage, join
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import SkahaClient
from srcnet_tui.core.skaha_rules import COMPLETED

POLL_START_S, POLL_MAX_S = 1.0, 15.0
LOCAL_POLL_START_S, LOCAL_POLL_MAX_S = 0.2, 2.0
"""The local server answers a session list in about a millisecond, so a run there is watched closely."""
FAILED_TAIL_LINES = 15

Verdict = tuple[str, int | None, str | None]
"""A finished task's state, exit code and message, as the ledger records them."""


def poll_pauses(settings: Settings) -> tuple[float, float]:
    """The first and the longest pause between two looks at the platform while a run is watched."""
    if settings.backend == "local":
        return LOCAL_POLL_START_S, LOCAL_POLL_MAX_S
    return POLL_START_S, POLL_MAX_S


@dataclass(frozen=True)
class Watcher:
    """Looks at the platform for one run and finishes the tasks whose sessions ended."""

    scope: RunScope
    client: SkahaClient

    async def poll_once(self) -> bool:
        """One look at the platform; finishes the tasks whose sessions ended. True if any did."""
        active = await self.scope.tasks(L.LAUNCHED)
        sessions = {s.id: s for s in await self.client.list_sessions()}
        changed = False
        for task in active:
            session = sessions.get(task.session_id or "")
            if session is None:
                session = await self._get_or_none(task.session_id)
            if session is None or session.is_terminal:
                await self._finish(task, session)
                changed = True
        return changed

    async def _get_or_none(self, session_id: str | None) -> Session | None:
        try:
            return await self.client.get(session_id) if session_id else None
        except NotFound:
            return None

    async def _finish(self, task: TaskRecord, session: Session | None) -> None:
        if session is not None:
            await self._capture_log(task)
        await finish_from_outputs(self.scope, task, session.status if session is not None else None)

    async def _capture_log(self, task: TaskRecord) -> None:
        try:
            text = await self.client.logs(task.session_id or "")
        except SrcnetError as exc:
            self.scope.reporter.notice(f"{task_label(task.index)}: session {task.session_id} log not available ({exc})")
            return
        await asyncio.to_thread(_write_text, self.scope.local_dir / f"{task.name}.session.log", text)


async def finish_from_outputs(scope: RunScope, task: TaskRecord, session_status: str | None) -> None:
    """Record a task's verdict (from its summary, else from its session's status) and report it."""
    verdict = await asyncio.to_thread(read_verdict, scope.storage, task, scope.local_dir)
    state, code, message = verdict or outcome_without_summary(session_status)
    await scope.record(scope.ledger.mark_finished, task.index, state, code, message)
    finished = await scope.changed(task.index)
    if state == L.FAILED:
        scope.reporter.task_failed(finished, await asyncio.to_thread(failure_tail, scope.storage, finished, scope.local_dir))


def read_verdict(storage: Storage, task: TaskRecord, local_dir: Path) -> Verdict | None:
    """The task's verdict from the recorder summary it wrote, if it wrote one (fetched into ``local_dir``)."""
    summary = _read_summary(storage, task, local_dir)
    if summary is None:
        return None
    finder = summary.get("finder_exit_code", summary.get("exit_code"))
    status = summary.get("task_exit_code", summary.get("status", finder))
    if finder == 8:
        return L.NO_SOURCES, 8, summary.get("note") or "no sources found"
    if status == 0:
        return L.COMPLETED, 0, None
    return L.FAILED, finder if finder is not None else status, summary.get("error") or f"exit code {finder}"


def _read_summary(storage: Storage, task: TaskRecord, local_dir: Path) -> dict | None:
    outputs = task.spec.outputs
    target = local_dir / outputs.summary
    try:
        storage.download(outputs.path(outputs.summary), target)
        summary = json.loads(target.read_text())
    except (NotFound, ValueError, OSError):
        return None
    return summary if isinstance(summary, dict) else None


def outcome_without_summary(session_status: str | None) -> Verdict:
    if session_status is None:
        return L.LOST, None, "the session vanished before its result was seen, and it left no summary"
    if session_status == COMPLETED:
        return L.COMPLETED, None, "completed, but wrote no recorder summary"
    return L.FAILED, None, f"session {session_status.lower()} without a recorder summary"


def failure_tail(storage: Storage, task: TaskRecord, local_dir: Path) -> list[str]:
    """The last lines of the session's log, else of the finder's log (fetched if need be)."""
    for name in (f"{task.name}.session.log", task.spec.outputs.finder_log):
        path = local_dir / name
        if not path.exists():
            try:
                storage.download(join(task.spec.outputs.directory, name), path)
            except (NotFound, OSError):
                continue
        lines = path.read_text(errors="replace").splitlines()
        if lines:
            return lines[-FAILED_TAIL_LINES:]
    return []


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
