"""Watching: one session list per look at the platform, and each finished task's verdict and cause.

A task's verdict comes from the recorder summary it wrote beside its profile log (SoFiA's exit 8 is
"no sources", a result); without one, from the session's last status. The session's log is
captured as soon as it ends, while Skaha still keeps it (about an hour); a failed task's events
are read too, and its cause (out of memory, deadline, exit N, ...) and advice are recorded
(:mod:`.causes`) and reported with the last lines of its log. A session the platform restarted
(Kueue preemption: Running, then Pending again, or a start time that moved) is the same task's next
attempt; the earlier attempt's profile log is kept apart first. Downloads and file reads run in
worker threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from srcnet_tui.core.errors import NotFound, SrcnetError
from srcnet_tui.core.models import Session, parse_events, parse_time
from srcnet_tui.core.runs import attempts, causes
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.ledger import AttemptFiles, TaskRecord
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.scope import RunScope
from srcnet_tui.core.runs.storage import Storage, join
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import SkahaClient
from srcnet_tui.core.skaha_rules import COMPLETED, PENDING

POLL_START_S, POLL_MAX_S = 1.0, 15.0
LOCAL_POLL_START_S, LOCAL_POLL_MAX_S = 0.2, 2.0
"""The local server answers a session list in about a millisecond, so a run there is watched closely."""
FAILED_TAIL_LINES = 15
RESTART_TOLERANCE_S = 1.0
"""A start time that moved by more than this is a restart, not a rounding of the same start."""
PREEMPTED_REASON = "Preempted"
"""The reason of the event Kueue gives a workload it evicts to make room for higher-priority work."""

Verdict = tuple[str, int | None, str | None]
"""A finished task's state, exit code and message, as the ledger records them."""


def poll_pauses(settings: Settings) -> tuple[float, float]:
    """The first and the longest pause between two looks at the platform while a run is watched."""
    if settings.backend == "local":
        return LOCAL_POLL_START_S, LOCAL_POLL_MAX_S
    return POLL_START_S, POLL_MAX_S


@dataclass
class Watcher:
    """Looks at the platform for one run and finishes the tasks whose sessions ended."""

    scope: RunScope
    client: SkahaClient
    ram_options: tuple[int, ...] | None = None
    """The site's RAM options, read once, at the first failed task (a cause's advice rounds to them)."""

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
            else:
                await self._follow_start(task, session)
        return changed

    async def _get_or_none(self, session_id: str | None) -> Session | None:
        try:
            return await self.client.get(session_id) if session_id else None
        except NotFound:
            return None

    async def _follow_start(self, task: TaskRecord, session: Session) -> None:
        """Record when the session started; a session that started before and is Pending again, or
        started again later, was restarted by the platform: its earlier start was an attempt."""
        started = session.start_time.timestamp() if session.start_time else None
        if task.started_at is None:
            if started is not None:
                await self.scope.record(self.scope.ledger.mark_started, task.index, started)
            return
        if session.status == PENDING or (started is not None and abs(started - task.started_at) > RESTART_TOLERANCE_S):
            await self._restarted(task, still_pending=session.status == PENDING, started=started)

    async def _restarted(self, task: TaskRecord, still_pending: bool, started: float | None) -> None:
        # While the session is Pending again its files are still the earlier attempt's; once it has
        # started again the recorder has begun a new profile log, so only the times are known.
        if still_pending:
            files = await asyncio.to_thread(attempts.keep_attempt_files, self.scope.storage, task, self.scope.local_dir)
        else:
            files = attempts.files_from_times(task, until=started)
        await self._record_restart(task, time.time(), files, None if still_pending else started)

    async def _record_restart(self, task: TaskRecord, at: float, files: AttemptFiles, started: float | None) -> TaskRecord:
        scope = self.scope
        cause = causes.preempted(at)
        restarted = await scope.record(
            scope.ledger.mark_preempted, task.index, cause.text, cause.advice or "", files=files, started_at=started
        )
        scope.reporter.notice(
            f"{task_label(task.index)}: {task.name} was {cause.text}; attempt {restarted.attempt} counts as the same task"
        )
        await scope.changed(task.index)
        return restarted

    async def _finish(self, task: TaskRecord, session: Session | None) -> None:
        evidence = Evidence()
        if session is not None:
            await self._capture_log(task)
            evidence = await self._evidence(task, failed=session.status != COMPLETED)
            task = await self._record_missed_restarts(task, evidence.events, session.start_time)
        await finish_from_outputs(self.scope, task, session.status if session is not None else None, evidence)

    async def _record_missed_restarts(
        self, task: TaskRecord, events: tuple[dict, ...], last_start: datetime | None
    ) -> TaskRecord:
        """Restarts no poll saw (the session was Pending again between two looks, and started again
        within the same second), from the session's ``Preempted`` events; the last attempt began at
        the session's start time (recorded now if no poll saw it run)."""
        preemptions = [e for e in events if e.get("reason") == PREEMPTED_REASON]
        recorded = await self.scope.record(self.scope.ledger.attempts, task.index)
        missed = preemptions[max(sum(1 for a in recorded if a.session_id == task.session_id) - 1, 0) :]
        started = last_start.timestamp() if last_start else None
        for number, event in enumerate(missed, start=1):
            when = parse_time(event.get("first_time"))
            began = started if number == len(missed) else None
            task = await self._record_restart(task, when.timestamp() if when else time.time(), AttemptFiles(None, None), began)
        if not missed and task.started_at is None and started is not None:
            await self.scope.record(self.scope.ledger.mark_started, task.index, started)
            task = await self.scope.record(self.scope.ledger.task, task.index)
        return task

    async def _evidence(self, task: TaskRecord, failed: bool) -> Evidence:
        """An ended session's events and, when it failed, the site's RAM options (either may be missing)."""
        events: list[dict] = []
        try:
            events = parse_events(await self.client.events(task.session_id or ""))
        except SrcnetError:
            pass  # a session whose pod is gone answers 404: the summary and log still tell
        return Evidence(tuple(events), await self._ram_options() if failed else ())

    async def _ram_options(self) -> tuple[int, ...]:
        if self.ram_options is None:
            try:
                self.ram_options = tuple(causes.offered_ram(await self.client.context()))
            except SrcnetError:
                return ()  # asked again at the next failure: the platform may answer then
        return self.ram_options

    async def _capture_log(self, task: TaskRecord) -> None:
        try:
            text = await self.client.logs(task.session_id or "")
        except SrcnetError as exc:
            self.scope.reporter.notice(f"{task_label(task.index)}: session {task.session_id} log not available ({exc})")
            return
        await asyncio.to_thread(_write_text, self.scope.local_dir / f"{task.name}.session.log", text)


@dataclass(frozen=True)
class Evidence:
    """What the platform says of an ended session beside its files: its events, and the site's RAM options."""

    events: tuple[dict, ...] = ()
    ram_options: tuple[int, ...] = ()


async def finish_from_outputs(
    scope: RunScope, task: TaskRecord, session_status: str | None, evidence: Evidence | None = None
) -> None:
    """Record a task's verdict (from its summary, else from its session's status) and its cause; report it."""
    summary = await asyncio.to_thread(read_summary, scope.storage, task, scope.local_dir)
    state, code, message = verdict(summary) or outcome_without_summary(session_status)
    ended = dataclasses.replace(task, state=state, exit_code=code, message=message)
    cause = await asyncio.to_thread(_cause_of, scope, ended, summary, evidence or Evidence())
    text = cause.text if state not in L.SUCCESS_STATES else message
    await scope.record(scope.ledger.mark_finished, task.index, state, code, text, cause=cause.state, advice=cause.advice)
    finished = await scope.changed(task.index)
    if state == L.FAILED:
        scope.reporter.task_failed(finished, list(cause.tail))


def _cause_of(scope: RunScope, task: TaskRecord, summary: dict | None, evidence: Evidence) -> causes.Cause:
    """Classify an ended task; a failed one's log tail and peak memory are fetched for it (this blocks)."""
    if task.state in L.SUCCESS_STATES:
        return causes.classify(task, summary, ())
    tail = failure_tail(scope.storage, task, scope.local_dir)
    peak = None if summary else attempts.peak_gb(scope.storage, task, scope.local_dir)
    return causes.classify(task, summary, evidence.events, ram_options=evidence.ram_options, tail=tail, peak_gb=peak)


def read_verdict(storage: Storage, task: TaskRecord, local_dir: Path) -> Verdict | None:
    """The task's verdict from the recorder summary it wrote, if it wrote one (fetched into ``local_dir``)."""
    return verdict(read_summary(storage, task, local_dir))


def verdict(summary: dict | None) -> Verdict | None:
    """A recorder summary's verdict: SoFiA's exit 8 is a result ("no sources"), a status 0 success."""
    if summary is None:
        return None
    finder = summary.get("finder_exit_code", summary.get("exit_code"))
    status = summary.get("task_exit_code", summary.get("status", finder))
    if finder == 8:
        return L.NO_SOURCES, 8, summary.get("note") or "no sources found"
    if status == 0:
        return L.COMPLETED, 0, None
    return L.FAILED, finder if finder is not None else status, summary.get("error") or f"exit code {finder}"


def read_summary(storage: Storage, task: TaskRecord, local_dir: Path) -> dict | None:
    """The recorder summary the task wrote, fetched into ``local_dir``; None when it wrote none."""
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
