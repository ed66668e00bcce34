"""``run.json``: the provenance of a run, enough to tell later exactly what ran on what.

Software versions, the effective configuration, checksums of the parameter files and inputs,
and for every task its session id, times and exit code. It is written into the local results
folder and uploaded beside the run's outputs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from srcnet_tui.core.runs.ledger import RunRecord, TaskRecord
from srcnet_tui.core.runs.spec import RunPlan
from srcnet_tui.core.runs.storage import Storage, file_md5

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


def input_checksums(plan: RunPlan, storage: Storage) -> list[dict]:
    """MD5 and size of every uploaded file (from the local copy) and of the input data on storage."""
    entries: list[dict] = []
    for upload in plan.uploads:
        local = upload.local
        if local.is_file():
            entries.append({"path": upload.remote, "source": str(local), "size": local.stat().st_size, "md5": file_md5(local)})
    if plan.input_data not in {u.remote for u in plan.uploads}:
        found = storage.stat(plan.input_data)
        entries.append({"path": plan.input_data, "size": found.size if found else None, "md5": found.md5 if found else None})
    return entries


def task_entry(task: TaskRecord) -> dict:
    spec = task.spec
    return {
        "index": task.index,
        "name": task.name,
        "attempt": task.attempt,
        "session_id": task.session_id,
        "state": task.state,
        "exit_code": task.exit_code,
        "message": task.message,
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
    run: RunRecord, tasks: list[TaskRecord], storage: Storage, usage: dict | None, merged: dict | None = None
) -> dict:
    plan = run.plan
    if plan is None:
        raise ValueError(f"run {run.id}: listed without its plan; read it with Ledger.run")
    return {
        "format": FORMAT,
        "run_id": run.id,
        "kind": run.kind,
        "backend": run.backend,
        "created": _iso(run.created),
        "written": _iso(time.time()),
        "command": redacted_command(sys.argv),
        "software": software_versions(),
        "image": plan.image,
        "config": plan.config,
        "output_dir": run.remote_dir,
        "input_data": plan.input_data,
        "cube": plan.cube.to_dict() if plan.cube else None,
        "grid": list(plan.grid) if plan.grid else None,
        "checksums": input_checksums(plan, storage),
        "counts": run.to_json()["counts"],
        "tasks": [task_entry(t) for t in tasks],
        "usage": usage,
        "merged_catalogue": merged,
    }


def write_manifest(manifest: dict, path: Path) -> Path:
    """Write atomically, so a reader never sees half a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(temporary, path)
    return path
