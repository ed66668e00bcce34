"""Collecting: a finished run's products back on this machine, its usage, merged catalogue and run.json.

Every task's small products come back, failed tasks' too (cubes, masks and cubelets stay on
storage). The usage table has the numbers of ``aggregate``, a row per task with the cores it
requested; a split run's catalogues are merged into one of the whole cube; ``run.json`` records
the provenance. Everything here blocks (storage, files) and is meant for a worker thread.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from srcnet_tui.core import usage
from srcnet_tui.core.runs.ledger import RunRecord, TaskRecord
from srcnet_tui.core.runs.manifest import build_manifest, write_manifest
from srcnet_tui.core.runs.merge import DEFAULT_TOLERANCE, merge_split_run
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.spec import RunPlan
from srcnet_tui.core.runs.storage import Storage, join

COLLECT_SKIP_SUFFIXES = (".fits", ".fits.gz", ".fz")
"""Cubes, masks and cubelets stay on storage; everything else a task wrote comes back."""
RUN_JSON = "run.json"


def collect(storage: Storage, tasks: list[TaskRecord], local_dir: Path) -> None:
    """Bring back every task's small products (failed tasks too) into ``local_dir``."""
    for stale in local_dir.glob(".*.part-*"):  # a download cut short by a killed driver
        stale.unlink()
    for task in tasks:
        directory = task.spec.outputs.directory
        for name in storage.listdir(directory):
            if name.lower().endswith(COLLECT_SKIP_SUFFIXES) or name.startswith("."):
                continue
            if storage.stat(join(directory, name)) is not None:
                storage.download(join(directory, name), local_dir / name)


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


def collected_catalogues(tasks: list[TaskRecord], local_dir: Path) -> list[Path]:
    """The catalogues the run's tasks brought back to ``local_dir``."""
    names = [name for task in tasks for name in task.spec.outputs.catalogues]
    return [local_dir / name for name in names if (local_dir / name).is_file()]


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
        path = Path(local_dir) / task.spec.outputs.profile_log
        if path.is_file():
            cores = task.spec.cores
            found.append(TaskProfile(path, task_label(task.index), float(cores) if cores else None))
    return found


def usage_report(local_dir: Path, tasks: list[TaskRecord]) -> tuple[dict | None, list[str]]:
    """The usage report of the run's profile logs (the same numbers as ``aggregate``), a row per task."""
    profiles = task_profiles(local_dir, tasks)
    if not profiles:
        return None, ["no profile logs came back"]
    loaded = usage.load([p.path for p in profiles], names={str(p.path): p.name for p in profiles})
    cores = {p.name: p.cores for p in profiles if p.cores}
    return usage.aggregate(loaded.runs, cores=cores), list(loaded.problems)


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
    storage.upload(path, join(remote_dir, path.name))
    return {"path": str(path), **result.to_dict()}


def write_run_manifest(
    storage: Storage, run: RunRecord, tasks: list[TaskRecord], report: dict | None, merged: dict | None
) -> Path:
    """``run.json`` in the local results folder and beside the run's outputs on storage."""
    local_dir, remote_dir = Path(run.local_dir or "."), run.remote_dir or ""
    manifest = build_manifest(run, tasks, storage, report, merged)
    path = write_manifest(manifest, local_dir / RUN_JSON)
    storage.upload(path, join(remote_dir, RUN_JSON))
    return path
