"""``keep``: copy a finished run's kept products to long-term storage, every copy verified.

The destination is a local folder or an /arc path; the run's products go into ``PATH/RUN_ID/`` with
the layout they have on storage. Copies run a few at a time. Each lands in a temporary file renamed
into place only once its MD5 matches the source (and, for a product that was collected, its SHA-256
matches the collected copy), so ``kill -9`` at any moment leaves whole verified copies and stray
temporary files; running ``keep`` again drops the strays, skips the copies already there and copies
the rest. What was kept is added to ``run.json`` as it goes; ``--move`` removes a source only once
its verified copy is recorded there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from srcnet_tui.core.errors import TaskFailed, UsageError
from srcnet_tui.core.runs.checksums import Checksum, now_iso, read_json, write_json_atomically
from srcnet_tui.core.runs.cleaning import run_products
from srcnet_tui.core.runs.ledger import RunRecord
from srcnet_tui.core.runs.manifest import KEPT, RUN_JSON, manifest_path, read_manifest, record_in_manifest
from srcnet_tui.core.runs.products import KEEP, Product
from srcnet_tui.core.runs.storage import Digests, Storage, file_digests, is_remote, join

KEEP_PARALLEL = 4
RECORD_EVERY = 50
"""Verified copies are added to run.json in batches of this many (and at the end)."""

Progress = Callable[[Product, int, int], None]
"""Called after each verified copy with the product, how many are done and how many there are."""


@dataclass(frozen=True)
class Destination:
    """Where one run's kept products go: ``PATH/RUN_ID``, on this machine or on storage."""

    root: str
    remote: bool

    @classmethod
    def for_run(cls, to: str, run: RunRecord) -> Destination:
        if is_remote(to):
            if run.remote_dir and (to.rstrip("/") + "/").startswith(run.remote_dir.rstrip("/") + "/"):
                raise UsageError(f"keep --to {to}: inside the run's own folder {run.remote_dir}")
            return cls(join(to, run.id), remote=True)
        return cls(str(Path(to).expanduser().resolve() / run.id), remote=False)

    def path(self, relative: str) -> str:
        return join(self.root, relative) if self.remote else str(Path(self.root) / relative)


def keep_run(
    storage: Storage,
    run: RunRecord,
    to: str,
    *,
    move: bool = False,
    parallel: int = KEEP_PARALLEL,
    progress: Progress | None = None,
) -> list[dict]:
    """Copy every product the policy keeps (``run.json`` last, once it records them) to ``to``;
    returns what was kept."""
    destination = Destination.for_run(to, run)
    products = [p for p in run_products(storage, run) if p.action == KEEP and p.relative != RUN_JSON]
    collected = {e["source"]: Checksum.from_dict(e) for e in read_manifest(run).get("products", []) if e.get("source")}
    if not destination.remote:
        _drop_partial_copies(Path(destination.root))
    kept: list[dict] = []
    pending: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = {pool.submit(copy_product, storage, p, destination, collected.get(p.path), move): p for p in products}
        for future in as_completed(futures):
            pending.append(future.result())
            if progress:
                progress(futures[future], len(kept) + len(pending), len(products))
            if len(pending) >= RECORD_EVERY:
                kept += _record(storage, run, pending, move)
    finally:  # on a failure or Ctrl-C: no new copies, the verified ones recorded
        pool.shutdown(wait=True, cancel_futures=True)
        kept += _record(storage, run, pending, move)
    _copy_manifest(storage, run, destination)
    return kept


def copy_product(storage: Storage, product: Product, destination: Destination, collected: Checksum | None, move: bool) -> dict:
    """One verified copy; the record ``run.json`` keeps of it."""
    target = destination.path(product.relative)
    digests = _copy_to_storage(storage, product.path, target) if destination.remote else _copy_here(storage, product.path, target)
    if collected is not None and collected.sha256 not in (None, digests.sha256):
        raise TaskFailed(f"keep: {product.path} differs from its collected copy {collected.path}; not kept")
    return {**Checksum.of(target, digests, source=product.path).to_dict(), "moved": move, "time": now_iso()}


def _copy_here(storage: Storage, source: str, target: str) -> Digests:
    storage.download(source, Path(target))  # verified against the MD5 storage reports, then renamed into place
    return file_digests(Path(target))


def _copy_to_storage(storage: Storage, source: str, target: str) -> Digests:
    with tempfile.TemporaryDirectory(prefix="srcnet-keep-") as folder:
        local = Path(folder) / source.rsplit("/", 1)[-1]
        storage.download(source, local)
        storage.mkdir_p(target.rsplit("/", 1)[0])
        storage.upload(local, target)  # skipped when an identical copy is there; verified after sending
        return file_digests(local)


def _record(storage: Storage, run: RunRecord, entries: list[dict], move: bool) -> list[dict]:
    """Add verified copies to run.json; with ``move``, only then remove their sources."""
    if not entries:
        return []
    batch = list(entries)
    entries.clear()
    record_in_manifest(storage, run, KEPT, batch)
    if move:
        for entry in batch:
            storage.remove(entry["source"])
    return batch


def _copy_manifest(storage: Storage, run: RunRecord, destination: Destination) -> None:
    source = manifest_path(run)
    if destination.remote:
        storage.upload(source, destination.path(RUN_JSON))
    else:
        write_json_atomically(read_json(source), Path(destination.path(RUN_JSON)))


def _drop_partial_copies(root: Path) -> None:
    """Temporary files of copies a killed ``keep`` never finished."""
    for stale in root.rglob(".*.part-*") if root.is_dir() else ():
        stale.unlink()
