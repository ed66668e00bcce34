"""``verify``: every checksum a run recorded, checked again against the files as they are now.

Staged inputs are checked on storage (MD5, as VOSpace reports it; SHA-256 too where storage is
this machine), collected products in the results folder (size, MD5, SHA-256) and on storage, and
the copies ``keep`` made where it made them; files ``clean`` or ``keep --move`` removed from storage
on purpose are checked where they went, not where they were.
One flipped byte anywhere is a mismatch naming the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from srcnet_tui.core.runs.checksums import Checksum
from srcnet_tui.core.runs.ledger import RunRecord
from srcnet_tui.core.runs.manifest import KEPT, REMOVED, read_manifest
from srcnet_tui.core.runs.storage import Storage, file_digests, is_remote


@dataclass
class Verification:
    """What ``verify`` checked and what did not match, one line each."""

    checked: int = 0
    mismatches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"checked": self.checked, "mismatches": list(self.mismatches), "ok": not self.mismatches}


def verify_run(storage: Storage, run: RunRecord) -> Verification:
    manifest = read_manifest(run)
    result = Verification()
    gone = {entry["path"] for entry in manifest.get(REMOVED, [])} | {
        entry["source"] for entry in manifest.get(KEPT, []) if entry.get("moved")
    }
    for entry in manifest.get("checksums", []):
        if entry["path"] not in gone:
            _check(result, "staged input", Checksum.from_dict(entry), storage)
    for entry in manifest.get("products", []):
        product = Checksum.from_dict(entry)
        _check(result, "collected product", product, storage)
        if product.source and product.source not in gone:
            _check(result, "product on storage", Checksum(product.source, product.size, product.md5, None), storage)
    for entry in manifest.get(KEPT, []):
        _check(result, "kept copy", Checksum.from_dict(entry), storage)
    return result


def _check(result: Verification, role: str, recorded: Checksum, storage: Storage) -> None:
    result.checked += 1
    problem = storage_problem(recorded, storage) if is_remote(recorded.path) else local_problem(recorded)
    if problem:
        result.mismatches.append(f"{role} {recorded.path}: {problem}")


def local_problem(recorded: Checksum) -> str | None:
    """How a file on this machine differs from its record, or None."""
    path = Path(recorded.path)
    if not path.is_file():
        return "missing"
    return _difference(recorded, asdict(file_digests(path)))


def storage_problem(recorded: Checksum, storage: Storage) -> str | None:
    """How a stored file differs from its record (MD5 as storage reports it), or None."""
    found = storage.stat(recorded.path)
    if found is None:
        return "missing"
    sha256 = storage.sha256(recorded.path) if recorded.sha256 else None
    return _difference(recorded, {"size": found.size, "md5": found.md5, "sha256": sha256})


def _difference(recorded: Checksum, found: dict) -> str | None:
    for name in ("size", "md5", "sha256"):
        expected, now = getattr(recorded, name), found.get(name)
        if expected is not None and now is not None and expected != now:
            return f"{name} is {now}, recorded {expected}"
    return None
