"""Retrying a run's failed tasks: new attempts of only those, optionally with more cores or RAM.

A retry chooses tasks that ended without a result (by default every failed or lost one; a task that
completed is never launched again), checks their new requests against what the platform offers as
a run's are checked, keeps each ended attempt's profile log and summary apart (:mod:`.attempts`),
then puts them back in the ledger as their next attempts — all of them in one transaction — and
drives the run as :class:`~srcnet_tui.core.runs.orchestrate.Runner` drives any run: launch, watch,
collect, merge, usage and ``run.json`` brought up to date. A retry killed at any moment is finished
by ``resume``, which launches nothing twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from srcnet_tui.core.connect import open_client
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.attempts import keep_attempt_files
from srcnet_tui.core.runs.launching import LAUNCH_CONCURRENCY
from srcnet_tui.core.runs.ledger import AttemptFiles, Ledger, RunRecord, TaskRecord, attempt_name
from srcnet_tui.core.runs.orchestrate import Runner, RunResult, refuse_elsewhere
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.preflight import first_refusal
from srcnet_tui.core.runs.scope import Reporter
from srcnet_tui.core.runs.spec import TaskSpec
from srcnet_tui.core.runs.storage import Storage, open_storage
from srcnet_tui.core.runs.watching import poll_pauses
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import SkahaClient


@dataclass(frozen=True)
class Retry:
    """What a retry asks for: which tasks (None: every failed or lost one) and the new resources."""

    tasks: tuple[str, ...] | None = None
    cores: int | None = None
    ram_gb: int | None = None


@dataclass(frozen=True)
class RetryPlan:
    """The tasks a retry relaunches, each with the spec (and so the resources) its next attempt uses."""

    run: RunRecord
    tasks: tuple[TaskRecord, ...]
    specs: tuple[TaskSpec, ...]

    def to_json(self) -> dict:
        return {
            "run_id": self.run.id,
            "tasks": [
                {"task": task_label(t.index), "index": t.index, "name": attempt_name(t.spec.name, t.attempt + 1),
                 "attempt": t.attempt + 1, "state": t.state, "cause": t.cause, "message": t.message,
                 "cores": spec.cores, "ram_gb": spec.ram_gb}
                for t, spec in zip(self.tasks, self.specs)
            ],
        }  # fmt: skip


def chosen_tasks(run_id: str, tasks: Sequence[TaskRecord], names: Sequence[str] | None) -> list[TaskRecord]:
    """The tasks ``names`` picks (``task-003``, ``3`` or a session name), or every failed or lost one.

    Refused with one line (exit 2): an unknown name, a task that completed or has not ended, or nothing
    to retry."""
    if names is None:
        chosen = [t for t in tasks if t.state in L.RETRYABLE_STATES]
        if not chosen:
            raise UsageError(f"run {run_id}: nothing to retry (no task failed or was lost)")
        return chosen
    by_name = {}
    for task in tasks:
        for name in (task_label(task.index), str(task.index), task.name, task.spec.name):
            by_name[name.lower()] = task
    unknown = [name for name in names if name.lower() not in by_name]
    if unknown:
        raise UsageError(f"run {run_id}: no task {', '.join(unknown)} (its tasks are task-001..{task_label(len(tasks))})")
    chosen = list({by_name[name.lower()].index: by_name[name.lower()] for name in names}.values())
    for task in chosen:
        if task.state not in L.RETRYABLE_STATES:
            why = "completed; nothing that completed is launched again" if task.finished else "has not ended yet"
            raise UsageError(f"run {run_id}: {task_label(task.index)} ({task.name}) {why}")
    return sorted(chosen, key=lambda t: t.index)


def retried_spec(spec: TaskSpec, retry: Retry) -> TaskSpec:
    """The spec of a task's next attempt: its cores (and the finder's threads with them) and RAM."""
    cores = retry.cores or spec.cores
    return dataclasses.replace(spec, cores=cores, ram_gb=retry.ram_gb or spec.ram_gb, args=_with_threads(spec.args, cores))


def _with_threads(args: list[str], cores: int) -> list[str]:
    """The task command's ``--threads`` follows its cores (the finder uses what the session has)."""
    if "--threads" not in args[:-1]:
        return list(args)
    at = args.index("--threads") + 1
    return [*args[:at], str(cores), *args[at + 1 :]]


async def plan_retry(ledger: Ledger, client: SkahaClient, run_id: str, retry: Retry) -> RetryPlan:
    """The tasks to relaunch and their specs, checked against the platform's offers; nothing changes."""
    run = await asyncio.to_thread(ledger.run, run_id)
    tasks = chosen_tasks(run_id, await asyncio.to_thread(ledger.tasks, run_id), retry.tasks)
    specs = [retried_spec(t.spec, retry) for t in tasks]
    refusal = await first_refusal(
        client, [spec.launch_spec(attempt_name(spec.name, t.attempt + 1)) for t, spec in zip(tasks, specs)]
    )
    if refusal:
        task = tasks[refusal[0]]
        raise UsageError(f"run {run_id}: retry of {task_label(task.index)} ({task.name}): {refusal[1]}")
    return RetryPlan(run, tuple(tasks), tuple(specs))


def queue_retry(ledger: Ledger, storage: Storage, plan: RetryPlan) -> None:
    """Keep the ended attempts' files apart, then queue the next attempts (this blocks)."""
    local_dir = plan.run.local_dir
    files: dict[int, AttemptFiles] = {}
    if local_dir:
        files = {t.index: keep_attempt_files(storage, t, Path(local_dir)) for t in plan.tasks}
    ledger.plan_retry(plan.run.id, plan.specs, files)


@asynccontextmanager
async def _held(settings: Settings, run_id: str, reporter: Reporter, storage: Storage | None):
    """The ledger, a client and storage for a run launched where ``settings`` point, held by this process."""
    ledger = await asyncio.to_thread(Ledger, settings.state_dir)
    try:
        refuse_elsewhere(await asyncio.to_thread(ledger.run, run_id), settings, "retry")
        with ledger.driving(run_id):
            async with open_client(settings, progress=reporter.notice) as client:
                yield ledger, client, storage or open_storage(settings)
    finally:
        ledger.close()


async def preview_retry(settings: Settings, run_id: str, retry: Retry) -> RetryPlan:
    """What ``retry`` would relaunch, with which resources (``--dry-run``); nothing changes."""
    async with _held(settings, run_id, Reporter(), None) as (ledger, client, _storage):
        return await plan_retry(ledger, client, run_id, retry)


async def retry_run(
    settings: Settings,
    run_id: str,
    retry: Retry,
    *,
    wait: bool = True,
    reporter: Reporter | None = None,
    launch_concurrency: int = LAUNCH_CONCURRENCY,
    storage: Storage | None = None,
) -> RunResult:
    """Relaunch a run's chosen tasks as new attempts and drive the run to its end (to launched, without ``wait``)."""
    reporter = reporter or Reporter()
    async with _held(settings, run_id, reporter, storage) as (ledger, client, storage):
        plan = await plan_retry(ledger, client, run_id, retry)
        await asyncio.to_thread(queue_retry, ledger, storage, plan)
        for task, spec in zip(plan.tasks, plan.specs):
            reporter.notice(
                f"{task_label(task.index)}: retrying as attempt {task.attempt + 1} "
                f"({spec.cores} core{'' if spec.cores == 1 else 's'}, {spec.ram_gb} GB); it was {task.message or task.state}"
            )
        reporter.run_started(await asyncio.to_thread(ledger.run, run_id))
        runner = await Runner.open(ledger, storage, client, run_id, reporter, launch_concurrency, poll_pauses(settings))
        return await runner.drive(wait=wait)
