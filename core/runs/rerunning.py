"""``rerun``: the same tasks again, from a run's ``run.json``, only if its inputs are what they were.

A run is reproducible when its manifest names everything it read: the config file and section (or
the Kubernetes manifest or HTCondor submit file),
the settings the user wrote, and every staged input with its checksums. ``rerun`` reads the config
again and refuses (one line, exit 2) when a written setting or an input's checksum no longer
matches; otherwise it starts a new run through :func:`orchestrate.start_run`, like ``run`` does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.checksums import Checksum, read_json
from srcnet_tui.core.runs.config import RunConfig
from srcnet_tui.core.runs.kinds.condor import read_submit_file
from srcnet_tui.core.runs.kinds.k8s import read_manifest as read_job_manifest
from srcnet_tui.core.runs.ledger import Ledger
from srcnet_tui.core.runs.manifest import read_manifest
from srcnet_tui.core.runs.preflight import load_config
from srcnet_tui.core.runs.storage import Storage, file_digests
from srcnet_tui.core.runs.verifying import storage_problem


@dataclass(frozen=True)
class Rerun:
    """A recorded run ready to run again: its id and its config as read now."""

    run_id: str
    config: RunConfig


def recorded_manifest(state_dir: Path, run_id_or_file: str) -> dict:
    """The ``run.json`` a path names, or the one of the run with that id in the ledger."""
    path = Path(run_id_or_file)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UsageError(f"{path}: no such run.json")
        return read_json(path)
    with Ledger(state_dir) as ledger:
        return read_manifest(ledger.run(run_id_or_file))


def prepare_rerun(storage: Storage, manifest: dict) -> Rerun:
    """The run's config read again, once its written settings and every input are as recorded."""
    run_id = manifest.get("run_id", "?")
    recorded = manifest.get("config") or {}
    if not recorded.get("file"):
        raise UsageError(f"rerun {run_id}: run.json names no config file")
    config = read_config_again(recorded, manifest.get("command") or [])
    _refuse_changed_settings(run_id, config, recorded)
    for entry in manifest.get("checksums", []):
        problem = input_problem(storage, Checksum.from_dict(entry))
        if problem:
            raise UsageError(f"rerun {run_id}: {problem}; refusing to run it again on different inputs")
    return Rerun(run_id, config)


def read_config_again(recorded: dict, command: Sequence[str]) -> RunConfig:
    """The run's config read again from the file that defined it: a config.ini section, a Kubernetes
    manifest or an HTCondor submit file (with the ``--vos-dir``, image and ``--mount``s it was submitted with)."""
    path, settings = Path(recorded["file"]), recorded.get("settings", {})
    workload = settings.get("kind")
    if workload == "k8s":
        return read_job_manifest(path, settings["vos_dir"], submitted_mounts(command)).config
    if workload == "condor":
        return read_submit_file(path, settings["vos_dir"], settings.get("image")).config
    return load_config(path, recorded.get("kind", "task"), recorded.get("section"))


def submitted_mounts(command: Sequence[str]) -> dict[str, str]:
    """The ``--mount NAME=/arc/PATH`` options of a recorded ``submit`` command line, by volume name."""
    values = [value for option, value in pairwise(command) if option == "--mount"]
    values += [arg.removeprefix("--mount=") for arg in command if arg.startswith("--mount=")]
    return {name: target for name, _, target in (value.partition("=") for value in values)}


def _refuse_changed_settings(run_id: str, config: RunConfig, recorded: dict) -> None:
    before = recorded.get("settings", {})
    now = json.loads(json.dumps(config.to_dict()["settings"], default=str))  # as run.json has it
    chosen_by_the_run = set(recorded.get("defaults", [])) | set(recorded.get("fitted", {}))
    for key, value in before.items():
        if key not in chosen_by_the_run and now.get(key) != value:
            raise UsageError(f"rerun {run_id}: {config.where(key)} is {now.get(key)!r} now, {value!r} when it ran")


def input_problem(storage: Storage, staged: Checksum) -> str | None:
    """How an input differs from what the run read: its local source when it was uploaded, else the stored file."""
    if not staged.source:
        problem = storage_problem(staged, storage)
        return f"input {staged.path}: {problem}" if problem else None
    source = Path(staged.source)
    if not source.is_file():
        return f"input {source} (staged as {staged.path}) is gone"
    now = file_digests(source)
    for name in ("md5", "sha256"):
        expected = getattr(staged, name)
        if expected and expected != getattr(now, name):
            return f"input {source} changed since the run ({name} {getattr(now, name)}, recorded {expected})"
    return None
