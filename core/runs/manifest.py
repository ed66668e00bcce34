"""``run.json``: the provenance of a run, enough to tell later exactly what ran on what.

Software versions (the finder's as its own log reports it), the image, the effective configuration
and the parameter files' text, checksums of the inputs as they were staged and of the products as
they came back, the logs, and for every task its session id, times, exit code and every attempt: enough for
``rerun``. ``keep`` and ``clean`` add what they copied and removed; writing it again keeps those.
It is written into the local results folder and uploaded beside the run's outputs.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs import checksums
from srcnet_tui.core.runs.checksums import read_json, write_json_atomically
from srcnet_tui.core.runs.ledger import AttemptRecord, RunRecord, TaskRecord
from srcnet_tui.core.runs.spec import RunPlan
from srcnet_tui.core.runs.storage import Storage, file_md5

RUN_JSON = "run.json"
KEPT, REMOVED = "kept", "removed"
CARRIED_ON = (KEPT, REMOVED)
"""Sections ``keep`` and ``clean`` add, which a manifest written again keeps."""
FINDER_VERSION = (
    re.compile(r"^\s*Version:\s+(\S+(?:\s+\([^)]*\))?)"),  # SoFiA-2's banner: "Version:  2.5.0 (24-Jun-2022)"
    re.compile(r"\b(?:SoFiA|PyBDSF|BDSF)[\s-]+(?:version\s+)?v?(\d+(?:\.\d+)+\S*)", re.IGNORECASE),
)

FORMAT = "srcnet-run/1"
PACKAGES = ("srcnet-tui", "httpx", "vos", "cadcutils", "psutil", "pandas", "astropy", "bdsf")


def software_versions() -> dict:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def input_checksums(plan: RunPlan, storage: Storage, local_dir: Path) -> list[dict]:
    """Every staged file as it was staged (size, MD5, SHA-256); for a run staged before staging
    recorded them, MD5 and size from the local copies and the input data on storage."""
    staged = checksums.recorded(local_dir, checksums.STAGED)
    if staged:
        return [entry.to_dict() for entry in staged]
    entries: list[dict] = []
    for upload in plan.uploads:
        local = upload.local
        if local.is_file():
            entries.append({"path": upload.remote, "source": str(local), "size": local.stat().st_size, "md5": file_md5(local)})
    if plan.input_data and plan.input_data not in {u.remote for u in plan.uploads}:
        found = storage.stat(plan.input_data)
        entries.append({"path": plan.input_data, "size": found.size if found else None, "md5": found.md5 if found else None})
    return entries


def finder_version(logs: list[Path]) -> str | None:
    """The finder's version as the first of its logs that says it reports it (SoFiA-2's banner)."""
    for log in logs:
        try:
            head = log.read_text(errors="replace").splitlines()[:60]
        except OSError:
            continue
        for pattern in FINDER_VERSION:
            for line in head:
                if match := pattern.search(line):
                    return match.group(1)
    return None


def parameter_texts(plan: RunPlan, staged: list[dict]) -> dict[str, str]:
    """The text of every staged parameter file, by its path on storage (as the tasks read it)."""
    sources = {entry["path"]: entry.get("source") for entry in staged}
    texts = {}
    for upload in plan.uploads:
        source = sources.get(upload.remote) or str(upload.local)
        if upload.remote.endswith(".par") and Path(source).is_file():
            texts[upload.remote] = Path(source).read_text(errors="replace")
    return texts


def task_entry(task: TaskRecord, attempts: Sequence[AttemptRecord] = ()) -> dict:
    """A task as ``run.json`` lists it: its current attempt, its spec, and ``attempts``: every attempt of
    it, the wasted ones too."""
    spec = task.spec
    return {
        "index": task.index,
        "name": task.name,
        "attempt": task.attempt,
        "session_id": task.session_id,
        "state": task.state,
        "exit_code": task.exit_code,
        "message": task.message,
        "cause": task.cause,
        "advice": task.advice,
        "launching": _iso(task.launching_at),
        "launched": _iso(task.launched_at),
        "finished": _iso(task.finished_at),
        "region": str(spec.region) if spec.region else None,
        "par_file": spec.par_file,
        "cores": spec.cores,
        "ram_gb": spec.ram_gb,
        "cmd": spec.cmd,
        "args": list(spec.args),
        "outputs": spec.outputs.to_dict(),
        "attempts": [attempt.to_json() for attempt in attempts],
    }


SECRET_OPTIONS = ("--token", "--cert")


def redacted_command(argv: list[str]) -> list[str]:
    """The command line as run, with the values of credential options replaced (run.json is shared)."""
    out, hide_next = [os.path.basename(argv[0])], False
    for arg in argv[1:]:
        option = arg.split("=", 1)[0]
        if hide_next:
            out.append("<redacted>")
        elif option in SECRET_OPTIONS and "=" in arg:
            out.append(f"{option}=<redacted>")
        else:
            out.append(arg)
        hide_next = not hide_next and arg in SECRET_OPTIONS
    return out


def build_manifest(
    run: RunRecord,
    tasks: list[TaskRecord],
    storage: Storage,
    usage: dict | None,
    merged: dict | None = None,
    attempts: Sequence[AttemptRecord] = (),
) -> dict:
    plan = run.plan
    if plan is None:
        raise ValueError(f"run {run.id}: listed without its plan; read it with Ledger.run")
    local_dir = Path(run.local_dir or ".")
    staged = input_checksums(plan, storage, local_dir)
    finder_logs = [local_dir / t.spec.outputs.finder_log for t in tasks]
    by_task = attempts_by_task(attempts)
    return {
        "format": FORMAT,
        "run_id": run.id,
        "kind": run.kind,
        "backend": run.backend,
        "created": _iso(run.created),
        "written": _iso(time.time()),
        "command": redacted_command(sys.argv),
        "software": software_versions(),
        "finder": {"name": _finder_name(plan), "version": finder_version(finder_logs)},
        "image": plan.image,
        "config": plan.config,
        "parameters": parameter_texts(plan, staged),
        "output_dir": run.remote_dir,
        "input_data": plan.input_data,
        "cube": plan.cube.to_dict() if plan.cube else None,
        "grid": list(plan.grid) if plan.grid else None,
        "checksums": staged,
        "products": [entry.to_dict() for entry in checksums.recorded(local_dir, checksums.COLLECTED)],
        "logs": [str(log) for t in tasks for log in _task_logs(local_dir, t)],
        "counts": run.to_json()["counts"],
        "tasks": [task_entry(t, by_task.get(t.index, [])) for t in tasks],
        "usage": usage,
        "merged_catalogue": merged,
    }


def attempts_by_task(attempts: Sequence[AttemptRecord]) -> dict[int, list[AttemptRecord]]:
    """The attempts of a run grouped by task index, each task's in order."""
    grouped: dict[int, list[AttemptRecord]] = {}
    for attempt in attempts:
        grouped.setdefault(attempt.index, []).append(attempt)
    return grouped


def _finder_name(plan: RunPlan) -> str | None:
    settings = plan.config.get("settings", {})
    return settings.get("finder") or settings.get("kind")


def _task_logs(local_dir: Path, task: TaskRecord) -> list[Path]:
    outputs = task.spec.outputs
    return [local_dir / name for name in (outputs.finder_log, outputs.profile_log) if (local_dir / name).is_file()]


def write_manifest(manifest: dict, path: Path) -> Path:
    """Write atomically, so a reader never sees half a manifest; what ``keep`` and ``clean`` recorded
    in the one there before is kept."""
    try:
        before = read_json(path)
    except UsageError:  # a damaged run.json is replaced, not a reason to fail the run
        before = {}
    carried = {section: before[section] for section in CARRIED_ON if before.get(section)}
    return write_json_atomically({**manifest, **carried}, path)


def manifest_path(run: RunRecord) -> Path:
    return Path(run.local_dir or ".") / RUN_JSON


def read_manifest(run: RunRecord) -> dict:
    """The run's ``run.json`` from its results folder; a run that has not been collected has none (exit 2)."""
    path = manifest_path(run)
    if not path.is_file():
        raise UsageError(f"run {run.id}: no {RUN_JSON} in {path.parent}; it is written when the run has finished")
    return read_json(path)


def record_in_manifest(storage: Storage, run: RunRecord, section: str, entries: list[dict]) -> Path:
    """Add ``entries`` to a section of the run's ``run.json`` (replacing those with the same path),
    here and beside the run's outputs."""
    read_manifest(run)  # refuses a run without one, naming it
    return update_manifest(storage, manifest_path(run), run.remote_dir, section, entries)


def update_manifest(storage: Storage, path: Path, remote_dir: str | None, section: str, entries: list[dict]) -> Path:
    """:func:`record_in_manifest` given the local ``run.json`` and the run's folder on storage."""
    manifest = read_json(path)
    paths = {entry["path"] for entry in entries}
    manifest[section] = [e for e in manifest.get(section, []) if e["path"] not in paths] + entries
    write_json_atomically(manifest, path)
    if remote_dir:
        storage.upload(path, f"{remote_dir}/{RUN_JSON}")
    return path
