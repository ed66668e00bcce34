"""Collecting: a finished run's products back on this machine, its usage, merged catalogue and run.json.

Every task's small products come back, failed tasks' too (cubes, masks and cubelets stay on
storage; a task whose outputs name ``products`` globs brings back what they match, and its logs and
catalogues), each recorded with its checksums in ``checksums.json``. The usage table has the
numbers of ``aggregate``, a row per task with the cores it requested; a split run's catalogues are
merged into one of the whole cube; ``run.json`` records the provenance. Everything here blocks
(storage, files) and is meant for a worker thread.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from srcnet_tui.core import usage
from srcnet_tui.core.runs import checksums
from srcnet_tui.core.runs.checksums import Checksum
from srcnet_tui.core.runs.ledger import AttemptRecord, RunRecord, TaskRecord
from srcnet_tui.core.runs.manifest import RUN_JSON, build_manifest, update_manifest, write_manifest
from srcnet_tui.core.runs.merge import DEFAULT_TOLERANCE, merge_split_run
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs
from srcnet_tui.core.runs.storage import Storage, file_digests, join

COLLECT_SKIP_SUFFIXES = (".fits", ".fits.gz", ".fz")
"""Cubes, masks and cubelets stay on storage; everything else a task wrote comes back."""


def collect(storage: Storage, tasks: list[TaskRecord], local_dir: Path) -> list[Checksum]:
    """Bring back every task's small products (failed tasks too) into ``local_dir``; record and
    return their checksums. A product several tasks wrote under one name (PyBDSF's
    ``<image>.pybdsf.log``, a command's ``out.txt``) comes back into each task's own folder
    (``task-003/out.txt``) so no task's copy overwrites another's."""
    for stale in local_dir.rglob(".*.part-*"):  # a download cut short by a killed driver
        stale.unlink()
    wanted = {task.index: _products_of(storage, task) for task in tasks}
    written_by = Counter(name for names in wanted.values() for name in names)
    collected = []
    for task in tasks:
        for name in wanted[task.index]:
            shared = written_by[name] > 1 and name not in task.spec.outputs.files
            local = local_dir / task_label(task.index) / name if shared else local_dir / name
            collected.append(collect_file(storage, join(task.spec.outputs.directory, name), local))
    checksums.record(local_dir, checksums.COLLECTED, collected)
    return collected


def _products_of(storage: Storage, task: TaskRecord) -> list[str]:
    directory = task.spec.outputs.directory
    return [
        name
        for name in storage.listdir(directory)
        if brought_back(task.spec.outputs, name) and storage.stat(join(directory, name)) is not None
    ]


def brought_back(outputs: TaskOutputs, name: str) -> bool:
    """Whether a file a task wrote comes back: its logs and catalogues always, then what the task's
    ``products`` globs match, or (without globs) anything but a cube, mask or cubelet."""
    if name.startswith("."):
        return False
    if name in outputs.files:
        return True
    if outputs.products:
        return any(fnmatch(name, pattern) for pattern in outputs.products)
    return not name.lower().endswith(COLLECT_SKIP_SUFFIXES)


def collect_file(storage: Storage, path: str, local: Path) -> Checksum:
    """Download one product (verified against the MD5 storage reports) and record its checksums."""
    local.parent.mkdir(parents=True, exist_ok=True)
    storage.download(path, local)
    return Checksum.of(str(local), file_digests(local), source=path)


def deliver_profile_logs(plan: RunPlan, tasks: list[TaskRecord], local_dir: Path) -> list[Path]:
    """Put each collected profile log where the config's ``profile_log`` says (when the user wrote a
    path; the default stays in the results folder only), as the seed's scripts did. Returns the copies."""
    written = plan.config.get("settings", {}).get("profile_log")
    if not written or not Path(written).is_absolute():
        return []
    folder = Path(written).parent
    folder.mkdir(parents=True, exist_ok=True)
    delivered = []
    for task in tasks:
        source = local_dir / task.spec.outputs.profile_log
        if source.is_file():
            delivered.append(Path(shutil.copyfile(source, folder / source.name)))
    return delivered


def deliver_job_files(plan: RunPlan, tasks: list[TaskRecord], local_dir: Path) -> list[Path]:
    """HTCondor runs: each task's ``output``, ``error`` and ``log`` files next to the submit file (the
    file the plan records as its config), as ``condor_submit`` leaves them; by whichever command finishes
    the run (``submit``, ``resume``, ``retry``). Returns the copies."""
    if plan.kind != "condor" or not plan.config.get("file"):
        return []
    folder = Path(plan.config["file"]).parent
    delivered = []
    for task in tasks:
        for name in job_file_names(task):
            source = local_dir / name
            if source.is_file():
                delivered.append(Path(shutil.copyfile(source, folder / name)))
    return delivered


def job_file_names(task: TaskRecord) -> list[str]:
    """The standard output, standard error and profile log a command task's ``srcnet-task exec`` writes."""
    args = list(task.spec.args)
    own = args[: args.index("--")] if "--" in args else args  # after "--": the user's program and its arguments
    return [own[own.index(option) + 1] for option in ("--stdout", "--stderr", "--log") if option in own[:-1]]


def collected_catalogues(tasks: list[TaskRecord], local_dir: Path) -> list[Path]:
    """The catalogues the run's tasks brought back to ``local_dir``."""
    names = [name for task in tasks for name in task.spec.outputs.catalogues]
    return [local_dir / name for name in names if (local_dir / name).is_file()]


@dataclass(frozen=True)
class TaskProfile:
    """A task's collected profile log, the name its usage row goes by and the cores it requested."""

    path: Path
    name: str  # task-001, as its folder on storage; task-001.a1 for an attempt a later one replaced
    cores: float | None
    wasted: bool = False


def task_profiles(local_dir: Path, tasks: list[TaskRecord]) -> list[TaskProfile]:
    """The profile logs of a run's tasks that came back to ``local_dir`` (for the usage table and the TUI)."""
    found = []
    for task in tasks:
        path = Path(local_dir) / task.spec.outputs.profile_log
        if path.is_file():
            cores = task.spec.cores
            found.append(TaskProfile(path, task_label(task.index), float(cores) if cores else None))
    return found


def wasted_profiles(local_dir: Path, attempts: Sequence[AttemptRecord]) -> list[TaskProfile]:
    """The kept profile logs of the attempts later ones replaced (``task-002.a1``): they used cores too."""
    found = []
    for attempt in attempts:
        path = Path(local_dir) / attempt.profile_log if attempt.wasted and attempt.profile_log else None
        if path is not None and path.is_file():
            cores = float(attempt.cores) if attempt.cores else None
            found.append(TaskProfile(path, f"{task_label(attempt.index)}.a{attempt.attempt}", cores, wasted=True))
    return found


def usage_report(
    local_dir: Path, tasks: list[TaskRecord], attempts: Sequence[AttemptRecord] = ()
) -> tuple[dict | None, list[str]]:
    """The usage report of the run's profile logs (the same numbers as ``aggregate``): a row per task
    from the attempt that finished, a row per wasted attempt (``wasted``), totals over them all."""
    profiles = task_profiles(local_dir, tasks) + wasted_profiles(local_dir, attempts)
    if not profiles:
        return None, ["no profile logs came back"]
    loaded = usage.load([p.path for p in profiles], names={str(p.path): p.name for p in profiles})
    cores = {p.name: p.cores for p in profiles if p.cores}
    report = usage.aggregate(loaded.runs, cores=cores)
    wasted = {p.name for p in profiles if p.wasted}
    for row in report["runs"]:
        row["wasted"] = row["run"] in wasted
    return report, list(loaded.problems)


def merge_collected(
    storage: Storage,
    plan: RunPlan,
    tasks: list[TaskRecord],
    local_dir: Path,
    remote_dir: str,
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
) -> dict | None:
    """Split runs: one catalogue of the whole cube from the tasks' catalogues, beside them and on storage."""
    if plan.kind != "split" or not collected_catalogues(tasks, local_dir):
        return None  # a run whose every task failed has nothing to merge (and says so by its counts)
    path = local_dir / f"{plan.run_id}_merged_cat.csv"
    result = merge_split_run(plan, [t.spec for t in tasks], lambda spec: local_dir, path, tolerance=tolerance)
    remote = join(remote_dir, path.name)
    storage.upload(path, remote)
    merged = Checksum.of(str(path), file_digests(path), source=remote)
    checksums.record(local_dir, checksums.COLLECTED, [merged])
    if (local_dir / RUN_JSON).is_file():  # merged again after the run: run.json follows
        update_manifest(storage, local_dir / RUN_JSON, remote_dir, "products", [merged.to_dict()])
    return {"path": str(path), **result.to_dict()}


def write_run_manifest(
    storage: Storage,
    run: RunRecord,
    tasks: list[TaskRecord],
    report: dict | None,
    merged: dict | None,
    attempts: Sequence[AttemptRecord] = (),
) -> Path:
    """``run.json`` in the local results folder and beside the run's outputs on storage."""
    local_dir, remote_dir = Path(run.local_dir or "."), run.remote_dir or ""
    manifest = build_manifest(run, tasks, storage, report, merged, attempts)
    path = write_manifest(manifest, local_dir / RUN_JSON)
    storage.upload(path, join(remote_dir, RUN_JSON))
    return path
