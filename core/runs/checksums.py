"""Checksums kept with a run: what was staged, what came back, what was kept elsewhere or removed.

Seed 004's rule is to check a copy before anything is deleted, so every file a run stages or
collects is recorded with its size, MD5 (what VOSpace reports, so a stored copy can be checked
without reading it back) and SHA-256 (checked on this machine). Staging and collecting write them
into ``checksums.json`` in the run's results folder as they go (atomically: a killed run never
leaves half a record); ``run.json`` carries them on, and ``keep`` and ``clean`` add what they
copied and removed. ``verify`` reads them all back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.storage import Digests

CHECKSUMS_JSON = "checksums.json"
STAGED, COLLECTED = "staged", "collected"


@dataclass(frozen=True)
class Checksum:
    """One file as recorded: ``path`` is where it is now, ``source`` where it came from (if anywhere)."""

    path: str
    size: int | None
    md5: str | None
    sha256: str | None
    source: str | None = None

    @classmethod
    def of(cls, path: str, digests: Digests, source: str | None = None) -> Checksum:
        return cls(path, digests.size, digests.md5, digests.sha256, source)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checksum:
        return cls(data["path"], data.get("size"), data.get("md5"), data.get("sha256"), data.get("source"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_json_atomically(data: dict, path: Path) -> Path:
    """Write to a temporary file beside ``path``, then rename: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(temporary, path)
    return path


def read_json(path: Path) -> dict:
    """A JSON object from a file; a missing file is empty; a broken one is one line naming it (exit 2)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a JSON object")
    return data


def recorded(local_dir: Path, section: str) -> list[Checksum]:
    """The checksums of one section (``staged`` or ``collected``) of a run's ``checksums.json``."""
    return [Checksum.from_dict(entry) for entry in read_json(Path(local_dir) / CHECKSUMS_JSON).get(section, [])]


def record(local_dir: Path, section: str, entries: list[Checksum]) -> None:
    """Replace the entries of ``section`` with the same ``path`` as ``entries``, keeping the others."""
    _update(local_dir, lambda data: _replace_by_path(data, section, [e.to_dict() for e in entries]))


def _replace_by_path(data: dict, section: str, entries: list[dict]) -> None:
    paths = {entry["path"] for entry in entries}
    data[section] = [entry for entry in data.get(section, []) if entry["path"] not in paths] + entries


def _update(local_dir: Path, change: Callable[[dict], None]) -> None:
    path = Path(local_dir) / CHECKSUMS_JSON
    data = read_json(path) or {"format": "srcnet-checksums/1"}
    change(data)
    write_json_atomically(data, path)
