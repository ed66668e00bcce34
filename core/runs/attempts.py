"""Each attempt of a task keeps its own profile log, summary and usage.

Every attempt of a task writes the same file names into the task's folder, so the next attempt
would overwrite the last one's profile log and summary, and a retried task that dies before writing
its summary would be judged by its predecessor's. Before a task is relaunched, retried or restarted
by the platform, :func:`keep_attempt_files` moves the attempt's files aside in the run's results
folder (``sofia_profile_002.a1.txt``, its summary, the finder's log; ``checksums.json`` follows them),
removes them from storage, and measures the attempt's usage with ``aggregate``'s numbers. Everything here blocks (storage, files).
"""

from __future__ import annotations

import os
from pathlib import Path

from srcnet_tui.core.errors import NotFound
from srcnet_tui.core.runs import checksums
from srcnet_tui.core.runs.ledger import AttemptFiles, TaskRecord
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.runs.storage import Storage
from srcnet_tui.core.task.recorder import summary_path

MIB_PER_GB = 1024.0
USAGE_FIELDS = ("wall_s", "cpu_hours", "rss_peak_mib", "cores", "alloc_core_hours", "efficiency")
"""What an attempt's usage keeps of its ``aggregate`` row."""


def kept_name(profile_log: str, attempt: int) -> str:
    """The name attempt ``attempt``'s profile log is kept under: ``sofia_profile_002.a1.txt``."""
    path = Path(profile_log)
    return f"{path.stem}.a{attempt}{path.suffix}"


def keep_attempt_files(storage: Storage, task: TaskRecord, local_dir: Path) -> AttemptFiles:
    """Move the current attempt's profile log, summary and finder log aside (fetched first if they
    were not collected yet) and off storage; the kept names of the first two and the attempt's usage."""
    outputs = task.spec.outputs
    kept_log = kept_name(outputs.profile_log, task.attempt)
    kept: dict[str, str | None] = {}
    finder_log = kept_name(outputs.finder_log, task.attempt)
    moved: dict[str, str] = {}
    for name, keep_as in (
        (outputs.profile_log, kept_log),
        (outputs.summary, summary_path(kept_log).name),
        (outputs.finder_log, finder_log),
    ):
        local = local_dir / name
        if not local.is_file():
            _fetch(storage, outputs.path(name), local)
        if local.is_file():
            os.replace(local, local_dir / keep_as)
            moved[str(local)] = str(local_dir / keep_as)
        kept[name] = keep_as if (local_dir / keep_as).is_file() else None  # kept already by a retry cut short
        storage.remove(outputs.path(name))
    follow_moved_copies(local_dir, moved)
    log = kept[outputs.profile_log]
    usage = attempt_usage(local_dir / log, task.spec.cores) if log else files_from_times(task).usage
    return AttemptFiles(log, kept[outputs.summary], usage)


def follow_moved_copies(local_dir: Path, moved: dict[str, str]) -> None:
    """``checksums.json`` names the copies moved aside where they are now (``moved``: old path -> new),
    with no source on storage, which the next attempt overwrites: ``verify`` checks the kept copy, and
    never a file the next attempt may not write again."""
    path = local_dir / checksums.CHECKSUMS_JSON
    recorded = checksums.read_json(path)
    entries = recorded.get(checksums.COLLECTED, [])
    if not moved or not any(entry["path"] in moved for entry in entries):
        return
    recorded[checksums.COLLECTED] = [
        {**entry, "path": moved[entry["path"]], "source": None} if entry["path"] in moved else entry for entry in entries
    ]
    checksums.write_json_atomically(recorded, path)


def files_from_times(task: TaskRecord, until: float | None = None) -> AttemptFiles:
    """An attempt whose profile log is gone (a restart overwrote it): its usage from its times only."""
    if task.started_at is None or until is None or until <= task.started_at:
        return AttemptFiles(None, None, None)
    wall = until - task.started_at
    return AttemptFiles(None, None, {"wall_s": round(wall, 3), "cores": task.spec.cores,
                                     "alloc_core_hours": round(task.spec.cores * wall / 3600, 9)})  # fmt: skip


def attempt_usage(profile_log: Path, cores: int) -> dict | None:
    """``aggregate``'s numbers for one attempt's profile log (None when it cannot be read)."""
    from srcnet_tui.core import usage  # pandas: only when an attempt is measured

    loaded = usage.load([profile_log])
    if not loaded.runs:
        return None
    return _kept(usage.aggregate(loaded.runs, cores=float(cores) if cores else None)["runs"][0])


def final_attempt_files(tasks: list[TaskRecord], report: dict | None) -> dict[tuple[int, int], AttemptFiles]:
    """Each task's current attempt, its files as collected and its row of the run's usage ``report``."""
    rows = {row["run"]: row for row in (report or {}).get("runs", [])}
    files = {}
    for task in tasks:
        row = rows.get(task_label(task.index))
        usage = _kept(row) if row else None
        files[(task.index, task.attempt)] = AttemptFiles(task.spec.outputs.profile_log, task.spec.outputs.summary, usage)
    return files


def peak_gb(storage: Storage, task: TaskRecord, local_dir: Path) -> float | None:
    """The peak RSS (GB) of the task's profile log, for a task killed before its recorder wrote a summary."""
    log = local_dir / task.spec.outputs.profile_log
    if not log.is_file():
        _fetch(storage, task.spec.outputs.path(task.spec.outputs.profile_log), log)
    measured = attempt_usage(log, task.spec.cores) if log.is_file() else None
    return measured["rss_peak_mib"] / MIB_PER_GB if measured and measured.get("rss_peak_mib") else None


def _fetch(storage: Storage, path: str, local: Path) -> None:
    try:
        storage.download(path, local)
    except (NotFound, OSError):
        pass  # an attempt that never started wrote nothing


def _kept(row: dict) -> dict:
    return {key: row[key] for key in USAGE_FIELDS if key in row}
