"""A run from start to finish: plan -> stage -> launch -> watch -> collect, resumable at any moment.

The seed scripts capped concurrency at four, stopped collecting at the first failure, lost SoFiA's
exit status and could not be resumed. Here:

- the plan and every task are in the ledger before anything is staged or launched, and the run id
  is announced first, so ``resume RUN_ID`` always has something to resume;
- staging is idempotent (uploads skip identical files), so a resume simply stages again;
- launches are concurrent and bounded only by a semaphore; the platform schedules;
- each create is preceded by a committed ``launching`` record carrying the deterministic session
  name, so a resume adopts a session that was created just before a crash instead of launching it
  twice (:func:`reconcile`);
- watching polls one session list with back-off and captures each finished session's log while
  Skaha still keeps it (about an hour);
- collection brings back every small product of every task, failed ones included, and the run
  ends with the usage table and ``run.json``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from srcnet_tui.core.errors import NotFound, SrcnetError, UsageError
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.config import RunConfig, is_arc_path, load_run_config
from srcnet_tui.core.runs.ledger import Ledger, RunRecord, TaskRecord
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.storage import LocalArc, Storage, join, open_storage
from srcnet_tui.core.skaha import LaunchSpec

LAUNCH_CONCURRENCY = 16
ADOPTION_GRACE_S = {"local": 1.0, "canfar": 10.0}
"""A create sent just before a crash may still be in flight at the server; wait this long after it was
sent before deciding it never arrived (the local server acts within milliseconds)."""
POLL_START_S, POLL_MAX_S = 1.0, 15.0
LOCAL_POLL_START_S, LOCAL_POLL_MAX_S = 0.2, 2.0
"""The local server answers a session list in about a millisecond, so a run there is watched closely."""
COLLECT_SKIP_SUFFIXES = (".fits", ".fits.gz", ".fz")
"""Cubes, masks and cubelets stay on storage; everything else a task wrote comes back."""
FAILED_TAIL_LINES = 15
RUN_JSON = "run.json"


class Reporter:
    """How a run tells its user what happens; the CLI prints, the TUI updates a pane. Override freely."""

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

    @property
    def exit_code(self) -> int:
        """0 when every task ended with a result (completed or no sources), else 1 (contract)."""
        if not self.waited:
            return 0
        return 0 if all(t.state in L.SUCCESS_STATES for t in self.tasks) else 1


# -- planning --------------------------------------------------------------------------------------


def load_config(path: str | Path, kind: str, section: str | None = None) -> RunConfig:
    return load_run_config(path, section=section, kind=kind)


def make_plan(config: RunConfig, run_id: str, storage: Storage, context: dict | None = None):
    """The plan of a run; a cube already on /arc has its header read through storage."""
    from srcnet_tui.core.runs.plan import plan_run

    def read_header(path: str):
        try:
            return read_cube_header(storage, path)
        except UsageError as exc:
            raise UsageError(f"{config.where('image_file')}: {exc}") from None

    return plan_run(config, run_id, context=context, read_header=read_header)


def read_cube_header(storage: Storage, path: str):
    from srcnet_tui.core.runs.fits import read_cube_shape, read_cube_shape_from

    if not is_arc_path(path):
        return read_cube_shape(path)
    if isinstance(storage, LocalArc):
        return read_cube_shape(storage.local_path(path))
    stream = storage.open_read(path)
    try:
        return read_cube_shape_from(stream, path)
    finally:
        stream.close()


def task_spec(plan, task) -> dict:
    """Everything needed to (re)launch and collect a task, stored in the ledger with it."""
    return {
        **task.to_dict(),
        "image": plan.image,
        "env": plan.env,
        "gpus": plan.gpus or None,
    }


def launch_spec(task: TaskRecord) -> LaunchSpec:
    spec = task.spec
    return LaunchSpec(
        name=task.name,
        image=spec["image"],
        cmd=spec["cmd"],
        args=list(spec["args"]),
        env=dict(spec.get("env") or {}),
        cores=spec.get("cores"),
        ram=spec.get("ram_gb"),
        gpus=spec.get("gpus"),
    )


def local_results_dir(config: RunConfig, state_dir: Path, run_id: str) -> Path:
    """Where a run's products come back to: ``logs_dir/RUN_ID`` or ``<state_dir>/runs/RUN_ID``."""
    base = Path(config.logs_dir) if config.logs_dir else Path(state_dir) / "runs"
    return base / run_id


def refuse_unwritable_results_dir(config: RunConfig, state_dir: Path) -> None:
    """The results folder must be creatable and writable before anything is recorded or launched,
    not found unusable when the first finished task's log comes back."""
    folder = local_results_dir(config, state_dir, "run").parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    problem = "is not a folder" if not existing.is_dir() else "is not writable"
    where = config.where("logs_dir") if config.logs_dir else f"state folder {state_dir}"
    raise UsageError(f"{where}: cannot keep results in {folder}: {existing} {problem}")


def record_plan(ledger: Ledger, plan, settings, local_dir: Path) -> RunRecord:
    tasks = [(t.index, t.name, task_spec(plan, t)) for t in plan.tasks]
    ledger.create_run(
        plan.run_id,
        plan.run_kind,
        tasks,
        config=str(plan.config.path),
        section=plan.config.section,
        backend=settings.backend,
        remote_dir=plan.output_dir,
        local_dir=str(local_dir),
        details={"plan": plan.to_dict()},
    )
    return ledger.run(plan.run_id)


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Runner:
    """One run being driven by this process: the ledger, storage, a Skaha client and a reporter."""

    ledger: Ledger
    storage: Storage
    client: object  # srcnet_tui.core.skaha.SkahaClient
    run_id: str
    reporter: Reporter = field(default_factory=Reporter)
    launch_concurrency: int = LAUNCH_CONCURRENCY
    poll_start_s: float = POLL_START_S
    poll_max_s: float = POLL_MAX_S

    @property
    def run(self) -> RunRecord:
        return self.ledger.run(self.run_id)

    @cached_property
    def plan(self) -> dict:
        """The plan as recorded (it never changes once the run is in the ledger)."""
        return self.run.details["plan"]

    @cached_property
    def local_dir(self) -> Path:
        """Where the run's products come back to on this machine."""
        return Path(self.run.local_dir)

    def _phase(self, phase: str, finished: bool = False) -> None:
        self.ledger.set_phase(self.run_id, phase, finished=finished)
        self.reporter.phase(self.run_id, phase)

    def _changed(self, index: int) -> TaskRecord:
        task = self.ledger.task(self.run_id, index)
        self.reporter.task_changed(task)
        return task

    # stage ------------------------------------------------------------------------------------
    def stage(self) -> None:
        """Upload inputs and parameter files, create the run's and every task's output folder."""
        self._phase("staging")
        plan = self.plan
        for upload in plan["uploads"]:
            local, remote = Path(upload["local"]), upload["remote"]
            if not local.exists() and self.storage.stat(remote) is not None:
                self.reporter.notice(f"kept: {remote} ({local} is gone; using the copy staged before)")
                continue
            self.storage.mkdir_p(remote.rsplit("/", 1)[0])
            result = self.storage.upload(local, remote)
            self.reporter.notice(f"{'unchanged' if result.skipped else 'uploaded'}: {local} -> {remote}")
        for task in plan["tasks"]:
            self.storage.mkdir_p(task["outputs"]["directory"])
        self._phase("staged")

    # launch ---------------------------------------------------------------------------------
    @property
    def max_parallel(self) -> int | None:
        """The user's optional cap on tasks running at once (config ``max_parallel``); None: no cap."""
        return self.plan["config"]["settings"].get("max_parallel")

    async def launch_pending(self, limit: int | None = None) -> int:
        """Launch tasks still ``planned`` (at most ``limit``), concurrently; stop at the first hard error."""
        pending = self.ledger.tasks(self.run_id, (L.PLANNED,))[:limit]
        if not pending:
            return 0
        self._phase("launching")
        await self._validate(pending)
        gate = asyncio.Semaphore(self.launch_concurrency)

        async def launch(task: TaskRecord) -> None:
            async with gate:
                await self._launch_one(task)

        results = await asyncio.gather(*(launch(t) for t in pending), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return len(pending)

    def _free_slots(self) -> int | None:
        if self.max_parallel is None:
            return None
        active = len(self.ledger.tasks(self.run_id, (L.LAUNCHING, L.LAUNCHED)))
        return max(self.max_parallel - active, 0)

    async def _validate(self, tasks: list[TaskRecord]) -> None:
        """Refuse before launching anything if any task would be refused (exit 2, nothing created)."""
        refusal = await first_refusal(self.client, [launch_spec(t) for t in tasks])
        if refusal:
            task = tasks[refusal[0]]
            raise UsageError(f"{task_label(task.index)} ({task.name}): {refusal[1]}")

    async def _launch_one(self, task: TaskRecord) -> None:
        task = self.ledger.mark_launching(self.run_id, task.index)
        self.reporter.task_changed(task)
        session_ids = await self.client.create(launch_spec(task))
        self.ledger.mark_launched(self.run_id, task.index, session_ids[0])
        self._changed(task.index)

    # reconcile (resume) -------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Settle tasks a killed process left in ``launching``; put lost tasks back in the queue."""
        stuck = self.ledger.tasks(self.run_id, (L.LAUNCHING,))
        if stuck:
            newest = max(t.launching_at or 0 for t in stuck)
            grace = ADOPTION_GRACE_S.get(self.run.backend or "canfar", max(ADOPTION_GRACE_S.values()))
            wait = newest + grace - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            by_name = _sessions_by_name(await self.client.list_sessions())
            for task in stuck:
                await self._settle_stuck(task, by_name.get(task.name.lower(), []))
        for task in self.ledger.tasks(self.run_id, (L.LOST,)):
            self.ledger.mark_planned(self.run_id, task.index, next_attempt=True)
            self.reporter.notice(f"{task_label(task.index)}: {task.name} was lost; relaunching as attempt {task.attempt + 1}")
            self._changed(task.index)

    async def _settle_stuck(self, task: TaskRecord, sessions: list) -> None:
        if sessions:
            session = min(sessions, key=lambda s: (s.start_time is None, s.start_time or 0))
            self.ledger.mark_launched(self.run_id, task.index, session.id)
            self.reporter.notice(f"{task_label(task.index)}: adopted session {session.id} ({task.name})")
        elif self._outcome_from_outputs(task) is not None:
            self._finish_from_outputs(task, session_status=None)
        else:
            self.ledger.mark_planned(self.run_id, task.index)
        self._changed(task.index)

    # watch ------------------------------------------------------------------------------------
    async def watch(self) -> None:
        """Poll until every task has finished, launching held-back tasks as ``max_parallel`` allows;
        capture each finished session's log while the platform still has it."""
        self._phase("watching")
        delay = self.poll_start_s
        while True:
            slots = self._free_slots()
            if slots != 0 and await self.launch_pending(limit=slots):
                self._phase("watching")
            if not self.ledger.tasks(self.run_id, (L.LAUNCHED,)):
                return
            changed = await self.poll_once()
            if not self.ledger.tasks(self.run_id, (L.LAUNCHED, L.PLANNED)):
                return
            delay = self.poll_start_s if changed else min(delay * 1.5, self.poll_max_s)
            await asyncio.sleep(delay)

    async def poll_once(self) -> bool:
        """One look at the platform; finishes the tasks whose sessions ended. True if any did."""
        active = self.ledger.tasks(self.run_id, (L.LAUNCHED,))
        sessions = {s.id: s for s in await self.client.list_sessions()}
        changed = False
        for task in active:
            session = sessions.get(task.session_id)
            if session is None:
                session = await self._get_or_none(task.session_id)
            if session is None or session.is_terminal:
                await self._finish(task, session)
                changed = True
        return changed

    async def _get_or_none(self, session_id: str):
        try:
            return await self.client.get(session_id)
        except NotFound:
            return None

    async def _finish(self, task: TaskRecord, session) -> None:
        if session is not None:
            await self._capture_log(task)
        self._finish_from_outputs(task, session.status if session is not None else None)

    async def _capture_log(self, task: TaskRecord) -> None:
        try:
            text = await self.client.logs(task.session_id)
        except SrcnetError as exc:
            self.reporter.notice(f"{task_label(task.index)}: session {task.session_id} log not available ({exc})")
            return
        path = self.local_dir / f"{task.name}.session.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def _finish_from_outputs(self, task: TaskRecord, session_status: str | None) -> None:
        state, code, message = self._outcome_from_outputs(task) or _outcome_without_summary(session_status)
        self.ledger.mark_finished(self.run_id, task.index, state, code, message)
        finished = self._changed(task.index)
        if state == L.FAILED:
            self.reporter.task_failed(finished, self._tail(finished))

    def _outcome_from_outputs(self, task: TaskRecord) -> tuple[str, int | None, str | None] | None:
        """The task's verdict from the recorder summary it wrote, if it wrote one."""
        summary = self._read_summary(task)
        if summary is None:
            return None
        finder = summary.get("finder_exit_code", summary.get("exit_code"))
        status = summary.get("task_exit_code", summary.get("status", finder))
        if finder == 8:
            return L.NO_SOURCES, 8, summary.get("note") or "no sources found"
        if status == 0:
            return L.COMPLETED, 0, None
        return L.FAILED, finder if finder is not None else status, summary.get("error") or f"exit code {finder}"

    def _read_summary(self, task: TaskRecord) -> dict | None:
        import json

        from srcnet_tui.core.task.recorder import summary_path

        outputs = task.spec["outputs"]
        name = summary_path(Path(outputs["profile_log"])).name
        target = self.local_dir / name
        try:
            self.storage.download(join(outputs["directory"], name), target)
            return json.loads(target.read_text())
        except (NotFound, ValueError, OSError):
            return None

    def _tail(self, task: TaskRecord) -> list[str]:
        for name in (f"{task.name}.session.log", task.spec["outputs"]["finder_log"]):
            path = self.local_dir / name
            if not path.exists():
                try:
                    self.storage.download(join(task.spec["outputs"]["directory"], name), path)
                except (NotFound, OSError):
                    continue
            lines = path.read_text(errors="replace").splitlines()
            if lines:
                return lines[-FAILED_TAIL_LINES:]
        return []

    # collect ----------------------------------------------------------------------------------
    def collect(self) -> Path:
        """Bring back every task's small products (failed tasks too) into the local results folder."""
        self._phase("collecting")
        local = self.local_dir
        for stale in local.glob(".*.part-*"):  # a download cut short by a killed driver
            stale.unlink()
        for task in self.ledger.tasks(self.run_id):
            directory = task.spec["outputs"]["directory"]
            for name in self.storage.listdir(directory):
                if name.lower().endswith(COLLECT_SKIP_SUFFIXES) or name.startswith("."):
                    continue
                if self.storage.stat(join(directory, name)) is not None:
                    self.storage.download(join(directory, name), local / name)
        return local

    def usage(self) -> tuple[dict | None, list[str]]:
        """The usage report of the run's profile logs (the same numbers as ``aggregate``), a row per task."""
        from srcnet_tui.core import usage

        profiles = task_profiles(self.local_dir, self.ledger.tasks(self.run_id))
        if not profiles:
            return None, ["no profile logs came back"]
        loaded = usage.load([p.path for p in profiles], names={str(p.path): p.name for p in profiles})
        cores = {p.name: p.cores for p in profiles if p.cores}
        return usage.aggregate(loaded.runs, cores=cores), list(loaded.problems)

    def merge(self, tolerance: tuple[float, float] | None = None) -> dict | None:
        """Split runs: one catalogue of the whole cube from the tasks' catalogues, beside them and on storage."""
        from srcnet_tui.core.runs.merge import DEFAULT_TOLERANCE, merge_split_run

        if self.plan.get("kind") != "split":
            return None
        path = self.local_dir / f"{self.run_id}_merged_cat.csv"
        result = merge_split_run(self.plan, lambda task: self.local_dir, path, tolerance=tolerance or DEFAULT_TOLERANCE)
        self.storage.upload(path, join(self.run.remote_dir, path.name))
        return {"path": str(path), **result.to_dict()}

    def write_manifest(self, report: dict | None, merged: dict | None = None) -> Path:
        from srcnet_tui.core.runs.manifest import build_manifest, write_manifest

        manifest = build_manifest(self.run, self.ledger.tasks(self.run_id), self.storage, report, merged)
        path = write_manifest(manifest, self.local_dir / RUN_JSON)
        self.storage.upload(path, join(self.run.remote_dir, RUN_JSON))
        return path

    # everything -------------------------------------------------------------------------------
    async def drive(self, wait: bool = True) -> RunResult:
        """Take the run from wherever the ledger says it is to its end (or to launched, without wait)."""
        await self.reconcile()
        if self.ledger.tasks(self.run_id, (L.PLANNED,)):
            self.stage()
            await self.launch_pending(limit=self._free_slots())
        if not wait:
            self._phase("launched")
            return RunResult(self.run, self.ledger.tasks(self.run_id), self.local_dir, waited=False)
        await self.watch()
        local = self.collect()
        merged = self.merge()
        report, problems = self.usage()
        self.write_manifest(report, merged)
        self._phase("done", finished=True)
        return RunResult(self.run, self.ledger.tasks(self.run_id), local, report, problems, merged=merged)


@dataclass(frozen=True)
class TaskProfile:
    """A task's collected profile log, the name its usage row goes by and the cores it requested."""

    path: Path
    name: str  # task-001, as its folder on storage
    cores: float | None


def task_profiles(local_dir: Path, tasks: list[TaskRecord]) -> list[TaskProfile]:
    """The profile logs of a run's tasks that came back to ``local_dir`` (for the usage table and the TUI)."""
    found = []
    for task in tasks:
        path = Path(local_dir) / task.spec["outputs"]["profile_log"]
        if path.is_file():
            cores = task.spec.get("cores")
            found.append(TaskProfile(path, task_label(task.index), float(cores) if cores else None))
    return found


CONFIG_KEYS_OF_SPEC_FIELDS = ("image", "name", "cores", "ram", "gpus", "env")
"""Launch fields set straight from the config key of the same name (a refusal names that key)."""


async def first_refusal(client, specs: list[LaunchSpec]) -> tuple[int, UsageError] | None:
    """The first spec the platform would refuse (its position, and why), checked here before sending."""
    from srcnet_tui.core.skaha import validate_spec

    registries, context = await asyncio.gather(client.registries(), client.context())
    for position, spec in enumerate(specs):
        try:
            validate_spec(spec, registries, context)
        except UsageError as exc:
            return position, exc
    return None


async def refuse_what_would_fail(plan, client, storage: Storage) -> None:
    """Before a run is recorded: every task must be acceptable to the platform, and every input
    already on /arc must exist. One error naming the config file, section and key (exit 2)."""
    refusal = await first_refusal(client, [LaunchSpec(**plan.launch_fields(t)) for t in plan.tasks])
    if refusal:
        position, exc = refusal
        raise _config_refusal(plan.config, plan.tasks[position], str(exc))
    _refuse_missing_arc_inputs(plan.config, storage)


def _config_refusal(config: RunConfig, task, text: str) -> UsageError:
    """A launch refusal in terms of the config key that set the field, else of the task."""
    field = text.split(":", 1)[0].split(" ", 1)[0]
    if field in CONFIG_KEYS_OF_SPEC_FIELDS:
        return UsageError(f"{config.where(field)}: {text[len(field) :].lstrip(': ')}")
    return UsageError(f"{task_label(task.index)} ({task.name}): {text}")


def _refuse_missing_arc_inputs(config: RunConfig, storage: Storage) -> None:
    for key in ("image_file", "parameter_file"):
        path = getattr(config, key)
        if path and is_arc_path(path) and not storage.is_file(path):
            raise UsageError(f"{config.where(key)}: no such file: {path} ({storage.describe(path)})")


def _sessions_by_name(sessions) -> dict[str, list]:
    by_name: dict[str, list] = {}
    for session in sessions:
        by_name.setdefault(session.name.lower(), []).append(session)
    return by_name


def _outcome_without_summary(session_status: str | None) -> tuple[str, int | None, str]:
    from srcnet_tui.core.models import COMPLETED

    if session_status is None:
        return L.LOST, None, "the session vanished before its result was seen, and it left no summary"
    if session_status == COMPLETED:
        return L.COMPLETED, None, "completed, but wrote no recorder summary"
    return L.FAILED, None, f"session {session_status.lower()} without a recorder summary"


# -- entry points for the CLI and the TUI ----------------------------------------------------------


def poll_pauses(settings) -> tuple[float, float]:
    """The first and the longest pause between two looks at the platform while a run is watched."""
    if settings.backend == "local":
        return LOCAL_POLL_START_S, LOCAL_POLL_MAX_S
    return POLL_START_S, POLL_MAX_S


async def start_run(
    settings,
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
    from srcnet_tui.core.connect import open_client

    reporter = reporter or Reporter()
    L.make_state_dir(settings.state_dir)  # before the local server creates it with a laxer mode
    warn_if_credential_expires(settings, reporter)
    storage = storage or open_storage(settings)
    async with open_client(settings, progress=reporter.notice) as client:
        run_id = L.new_run_id()
        plan = make_plan(config, run_id, storage, context=await client.context())
        await refuse_what_would_fail(plan, client, storage)
        refuse_unwritable_results_dir(config, settings.state_dir)
        with Ledger(settings.state_dir) as ledger, ledger.driving(run_id):
            run = record_plan(ledger, plan, settings, local_results_dir(config, settings.state_dir, run_id))
            reporter.run_started(run)
            if on_planned:
                on_planned(run)
            runner = Runner(ledger, storage, client, run_id, reporter, launch_concurrency, *poll_pauses(settings))
            return await runner.drive(wait=wait)


async def resume_run(
    settings,
    run_id: str,
    *,
    wait: bool = True,
    reporter: Reporter | None = None,
    launch_concurrency: int = LAUNCH_CONCURRENCY,
    storage: Storage | None = None,
) -> RunResult:
    """Finish an interrupted run from the ledger: adopt, relaunch what never started, watch, collect."""
    from srcnet_tui.core.connect import open_client

    reporter = reporter or Reporter()
    with Ledger(settings.state_dir) as ledger:
        run = ledger.run(run_id)
        if run.backend and run.backend != settings.backend:
            raise UsageError(f"run {run_id} ran on the {run.backend} backend; resume it with --backend {run.backend}")
        warn_if_credential_expires(settings, reporter)
        storage = storage or open_storage(settings)
        with ledger.driving(run_id):
            reporter.run_started(run)
            async with open_client(settings, progress=reporter.notice) as client:
                runner = Runner(ledger, storage, client, run_id, reporter, launch_concurrency, *poll_pauses(settings))
                return await runner.drive(wait=wait)


async def refresh_runs(
    settings, run_ids: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> list[RunRecord]:
    """Bring the ledger up to date for runs nobody is watching (``--no-wait``): one session list,
    finished tasks recorded (their logs captured); nothing is launched. Returns the runs, newest first.
    ``progress`` hears about slow answers and retries."""
    from srcnet_tui.core.connect import open_client

    with Ledger(settings.state_dir) as ledger:
        wanted = [r for r in ledger.runs() if run_ids is None or r.id in run_ids]
        open_runs = [r for r in wanted if r.counts.get(L.LAUNCHED)]
        if open_runs:
            storage = open_storage(settings)
            async with open_client(settings, progress=progress) as client:
                for run in open_runs:
                    await Runner(ledger, storage, client, run.id).poll_once()
        return [ledger.run(r.id) for r in wanted]


def merge_run(settings, run_id: str, tolerance: tuple[float, float] | None = None) -> dict:
    """Merge (again) the collected catalogues of a finished split run; no platform call."""
    with Ledger(settings.state_dir) as ledger:
        runner = Runner(ledger, open_storage(settings), None, run_id)
        merged = runner.merge(tolerance)
        if merged is None:
            raise UsageError(f"run {run_id} is a {runner.run.kind} run; only split runs have catalogues to merge")
        return merged


def dry_run_plan(settings, config: RunConfig, context: dict | None = None):
    """The plan a run would launch, with a placeholder id; nothing is recorded, staged or created."""
    plan = make_plan(config, "dry-run", open_storage(settings), context=context)
    refuse_unwritable_results_dir(config, settings.state_dir)
    return plan


def warn_if_credential_expires(settings, reporter: Reporter, expected_s: float = 24 * 3600) -> None:
    """Report a certificate or token that would expire before a run of ``expected_s`` ends."""
    from srcnet_tui.core.credentials import credential_status

    status = credential_status(settings)
    if status.problem is None and status.seconds_left is not None and status.seconds_left < expected_s:
        hours = status.seconds_left / 3600
        reporter.notice(
            f"warning: the {status.kind} credential expires in {hours:.1f} h "
            f"({status.expires_at:%Y-%m-%d %H:%M} UTC), possibly before this run ends; "
            "renew it (cadc-get-cert) to keep staging and collecting working"
        )
