"""A run from start to finish: plan -> stage -> launch -> watch -> collect, resumable at any moment.

The seed scripts capped concurrency at four, stopped collecting at the first failure, lost SoFiA's
exit status and could not be resumed. Here the plan and every task are in the ledger before
anything is staged or launched, and the run id is announced first, so ``resume RUN_ID`` always has
something to resume; each step is a module of its own (:mod:`.preflight`, :mod:`.staging`,
:mod:`.launching`, :mod:`.watching`, :mod:`.collecting`) and :class:`Runner` takes a run from
wherever the ledger says it is to its end. Blocking work (SQLite, storage, files) runs in worker
threads, so a run can be driven on any event loop, the TUI's included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.connect import open_client
from srcnet_tui.core.errors import TaskFailed, UsageError
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.attempts import final_attempt_files
from srcnet_tui.core.runs.causes import retry_hints
from srcnet_tui.core.runs.collecting import (
    collect,
    deliver_job_files,
    deliver_profile_logs,
    merge_collected,
    usage_report,
    write_run_manifest,
)
from srcnet_tui.core.runs.config import RunConfig
from srcnet_tui.core.runs.launching import LAUNCH_CONCURRENCY, Launcher
from srcnet_tui.core.runs.ledger import AttemptRecord, Ledger, RunRecord, TaskRecord
from srcnet_tui.core.runs.merge import DEFAULT_TOLERANCE
from srcnet_tui.core.runs.plan import Plan
from srcnet_tui.core.runs.preflight import checked_plan, credential_warning, local_results_dir
from srcnet_tui.core.runs.scope import Reporter, RunScope
from srcnet_tui.core.runs.staging import stage
from srcnet_tui.core.runs.storage import Storage, open_storage
from srcnet_tui.core.runs.watching import POLL_MAX_S, POLL_START_S, Watcher, poll_pauses
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import SkahaClient


@dataclass
class RunResult:
    """What a finished (or deliberately not awaited) run came to."""

    run: RunRecord
    tasks: list[TaskRecord]
    local_dir: Path | None = None
    usage: dict | None = None
    usage_problems: list[str] = field(default_factory=list)
    waited: bool = True
    merged: dict | None = None  # split runs: the merged catalogue's path and counts
    attempts: list[AttemptRecord] = field(default_factory=list)  # every attempt of every task

    @property
    def exit_code(self) -> int:
        """0 when every task ended with a result (completed or no sources), else 1 (contract)."""
        if not self.waited:
            return 0
        return 0 if all(t.state in L.SUCCESS_STATES for t in self.tasks) else 1

    def failure_report(self, command_prefix: str) -> str | None:
        """``run ID: N of M tasks failed`` when a finished run has tasks without a result, else None;
        followed by a line per failed task with its cause and advice, and the ``retry`` command that
        ``command_prefix`` (how the user runs the headless CLI) starts."""
        line = failed_tasks_line(self.run.id, self.tasks) if self.waited else None
        return "\n".join([line, *retry_hints(self.run.id, self.tasks, command_prefix)]) if line else None


def failed_tasks_line(run_id: str, tasks: list[TaskRecord]) -> str | None:
    """``run ID: N of M tasks failed`` (lost ones count as failed), or None when none did."""
    failed = sum(t.state not in L.SUCCESS_STATES for t in tasks)
    return f"run {run_id}: {failed} of {len(tasks)} tasks failed" if failed else None


def record_plan(ledger: Ledger, plan: Plan, settings: Settings, local_dir: Path) -> RunRecord:
    """Put a run and all its tasks in the ledger, as planned (blocks: call it in a worker thread)."""
    ledger.create_run(
        plan.run_id,
        plan.run_kind,
        plan.tasks,
        config=str(plan.config.path),
        section=plan.config.section,
        backend=settings.backend,
        site=settings.site_name,
        remote_dir=plan.output_dir,
        local_dir=str(local_dir),
        plan=plan.recorded(),
    )
    return ledger.run(plan.run_id)


def ran_here(run: RunRecord, settings: Settings) -> bool:
    """Whether ``run`` was launched at the site (or, recorded before sites, on the backend) of ``settings``:
    only there do its sessions exist, and only there may a missing session mean a lost task."""
    if run.site:
        return run.site == settings.site_name
    return run.backend in (None, settings.backend)


def refuse_elsewhere(run: RunRecord, settings: Settings, command: str) -> None:
    """One line naming where the run was launched, when ``settings`` point somewhere else (exit 2)."""
    if ran_here(run, settings):
        return
    if run.site:
        raise UsageError(f"run {run.id} ran at site {run.site}, not {settings.site_name}; {command} it with --site {run.site}")
    raise UsageError(f"run {run.id} ran on the {run.backend} backend; {command} it with --backend {run.backend}")


@dataclass(frozen=True)
class Runner:
    """One recorded run being driven by this process: its scope, a launcher and a watcher."""

    scope: RunScope
    launcher: Launcher
    watcher: Watcher
    poll_start_s: float
    poll_max_s: float

    @classmethod
    async def open(
        cls,
        ledger: Ledger,
        storage: Storage,
        client: SkahaClient,
        run_id: str,
        reporter: Reporter | None = None,
        launch_concurrency: int = LAUNCH_CONCURRENCY,
        poll: tuple[float, float] = (POLL_START_S, POLL_MAX_S),
    ) -> Runner:
        scope = await RunScope.open(ledger, storage, run_id, reporter)
        return cls(scope, Launcher(scope, client, launch_concurrency), Watcher(scope, client), *poll)

    async def drive(self, wait: bool = True) -> RunResult:
        """Take the run from wherever the ledger says it is to its end (or to launched, without wait)."""
        scope = self.scope
        await self.launcher.reconcile()
        if await scope.tasks(L.PLANNED):
            await stage(scope)
            await self.launcher.launch_pending(limit=await self.launcher.free_slots())
        if not wait:
            await scope.phase("launched")
            attempts = await scope.record(scope.ledger.attempts)
            return RunResult(await scope.run(), await scope.tasks(), scope.local_dir, waited=False, attempts=attempts)
        await self.watch()
        return await self.finish()

    async def watch(self) -> None:
        """Poll until every task has finished, launching held-back tasks as ``max_parallel`` allows."""
        await self.scope.phase("watching")
        poll = Backoff(first_s=self.poll_start_s, factor=1.5, cap_s=self.poll_max_s)
        quiet_polls = 0
        while True:
            slots = await self.launcher.free_slots()
            if slots != 0 and await self.launcher.launch_pending(limit=slots):
                await self.scope.phase("watching")
            if not await self.scope.tasks(L.LAUNCHED):
                return
            changed = await self.watcher.poll_once()
            if not await self.scope.tasks(L.LAUNCHED, L.PLANNED):
                return
            quiet_polls = 0 if changed else quiet_polls + 1
            await asyncio.sleep(poll.pause(quiet_polls))

    async def finish(self) -> RunResult:
        """Collect every task's products, merge a split run's catalogues, the usage table, run.json."""
        scope = self.scope
        await scope.phase("collecting")
        tasks = await scope.tasks()
        await asyncio.to_thread(collect, scope.storage, tasks, scope.local_dir)
        await asyncio.to_thread(deliver_profile_logs, scope.plan, tasks, scope.local_dir)
        await asyncio.to_thread(deliver_job_files, scope.plan, tasks, scope.local_dir)
        merged = await asyncio.to_thread(merge_collected, scope.storage, scope.plan, tasks, scope.local_dir, scope.remote_dir)
        earlier = await scope.record(scope.ledger.attempts)  # the wasted ones' kept logs count in the usage
        report, problems = await asyncio.to_thread(usage_report, scope.local_dir, tasks, earlier)
        await scope.record(scope.ledger.record_attempt_files, final_attempt_files(tasks, report))
        attempts = await scope.record(scope.ledger.attempts)
        await asyncio.to_thread(write_run_manifest, scope.storage, await scope.run(), tasks, report, merged, attempts)
        await scope.phase("done", finished=True)
        return RunResult(
            await scope.run(), await scope.tasks(), scope.local_dir, report, problems, merged=merged, attempts=attempts
        )


# -- entry points for the CLI and the TUI ----------------------------------------------------------


async def start_run(
    settings: Settings,
    config: RunConfig,
    *,
    wait: bool = True,
    reporter: Reporter | None = None,
    launch_concurrency: int = LAUNCH_CONCURRENCY,
    on_planned: Callable[[RunRecord], None] | None = None,
    storage: Storage | None = None,
) -> RunResult:
    """Plan a run, record it in the ledger, announce it, then drive it to its end.

    ``storage`` defaults to the backend's (:func:`open_storage`); ``on_planned`` is called once the
    run is in the ledger, before anything is staged or launched.
    """
    reporter = reporter or Reporter()
    await asyncio.to_thread(L.make_state_dir, settings.state_dir)  # before the local server makes it laxer
    await _warn_if_credential_expires(settings, reporter)
    storage = storage or open_storage(settings)
    async with open_client(settings, progress=reporter.notice) as client:
        run_id = L.new_run_id()
        plan = await checked_plan(config, run_id, client, storage, settings.state_dir)
        for line in plan.adjustments:
            reporter.notice(line)
        local_dir = local_results_dir(config, settings.state_dir, run_id)
        ledger = await asyncio.to_thread(Ledger, settings.state_dir)
        try:
            with ledger.driving(run_id):
                run = await asyncio.to_thread(record_plan, ledger, plan, settings, local_dir)
                reporter.run_started(run)
                if on_planned:
                    on_planned(run)
                runner = await Runner.open(ledger, storage, client, run_id, reporter, launch_concurrency, poll_pauses(settings))
                return await runner.drive(wait=wait)
        finally:
            ledger.close()


async def resume_run(
    settings: Settings,
    run_id: str,
    *,
    wait: bool = True,
    reporter: Reporter | None = None,
    launch_concurrency: int = LAUNCH_CONCURRENCY,
    storage: Storage | None = None,
) -> RunResult:
    """Finish an interrupted run from the ledger: adopt, relaunch what never started, watch, collect."""
    reporter = reporter or Reporter()
    ledger = await asyncio.to_thread(Ledger, settings.state_dir)
    try:
        run = await asyncio.to_thread(ledger.run, run_id)
        refuse_elsewhere(run, settings, "resume")
        await _warn_if_credential_expires(settings, reporter)
        storage = storage or open_storage(settings)
        with ledger.driving(run_id):
            reporter.run_started(run)
            async with open_client(settings, progress=reporter.notice) as client:
                runner = await Runner.open(ledger, storage, client, run_id, reporter, launch_concurrency, poll_pauses(settings))
                return await runner.drive(wait=wait)
    finally:
        ledger.close()


async def refresh_runs(
    settings: Settings, run_ids: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> list[RunRecord]:
    """Bring the ledger up to date for runs nobody is watching (``--no-wait``): one session list,
    finished tasks recorded (their logs captured); nothing is launched. Only runs launched at the site
    of ``settings`` are asked about: another platform does not know their sessions, which is no sign
    they were lost. Returns the runs, newest first. ``progress`` hears about slow answers and retries."""
    ledger = await asyncio.to_thread(Ledger, settings.state_dir)
    try:
        wanted = [r for r in await asyncio.to_thread(ledger.runs) if run_ids is None or r.id in run_ids]
        open_runs = [r for r in wanted if r.counts.get(L.LAUNCHED) and ran_here(r, settings)]
        if open_runs:
            storage = open_storage(settings)
            async with open_client(settings, progress=progress) as client:
                for run in open_runs:
                    await Watcher(await RunScope.open(ledger, storage, run.id), client).poll_once()
        return [await asyncio.to_thread(ledger.run, r.id) for r in wanted]
    finally:
        ledger.close()


def merge_run(settings: Settings, run_id: str, tolerance: tuple[float, float] | None = None) -> dict:
    """Merge (again) the collected catalogues of a finished split run; no platform call.

    A run that brought back no catalogue is refused (exit 1): there is nothing to merge."""
    with Ledger(settings.state_dir) as ledger:
        run = ledger.run(run_id)
        if run.plan is None or run.plan.kind != "split" or not run.local_dir or not run.remote_dir:
            raise UsageError(f"run {run_id} is a {run.kind} run; only split runs have catalogues to merge")
        tasks = ledger.tasks(run_id)
        merged = merge_collected(
            open_storage(settings), run.plan, tasks, Path(run.local_dir), run.remote_dir, tolerance or DEFAULT_TOLERANCE
        )
        if merged is None:
            failed = failed_tasks_line(run_id, tasks) or f"run {run_id}"
            raise TaskFailed(f"{failed}; no catalogue came back to {run.local_dir}, so there is nothing to merge")
        return merged


async def _warn_if_credential_expires(settings: Settings, reporter: Reporter) -> None:
    warning = await asyncio.to_thread(credential_warning, settings)
    if warning:
        reporter.notice(warning)
