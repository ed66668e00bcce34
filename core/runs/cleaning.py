"""``clean``: remove a finished run's temporary products from storage, after proving the kept ones intact.

The products are listed and classified first (:mod:`.products`), so the user sees each size and the
total before anything happens. Before the first removal every kept product that has a collected
copy must still match it (storage's MD5, the recorded checksum and the copy in the results folder
agree), and every copy ``keep`` made must match its record; one mismatch and nothing is removed.
What is removed (path, size, MD5, time) is added to ``run.json``, also when removal stops halfway.
"""

from __future__ import annotations

from pathlib import Path

from srcnet_tui.core.errors import TaskFailed, UsageError
from srcnet_tui.core.runs.checksums import Checksum, now_iso
from srcnet_tui.core.runs.ledger import RunRecord
from srcnet_tui.core.runs.manifest import KEPT, REMOVED, read_manifest, record_in_manifest
from srcnet_tui.core.runs.products import KEEP, REMOVE, Product, list_products
from srcnet_tui.core.runs.storage import Storage, is_remote
from srcnet_tui.core.runs.verifying import local_problem, storage_problem


def finished_plan(run: RunRecord):
    """The plan of a run that has ended; a run still going is refused (its products are still being written)."""
    if run.plan is None:
        raise UsageError(f"run {run.id}: the ledger has no plan for it")
    if run.finished is None:
        raise UsageError(f"run {run.id} has not finished (phase {run.phase}); finish it first with `resume {run.id}`")
    return run.plan


def run_products(storage: Storage, run: RunRecord) -> list[Product]:
    """The finished run's products on storage, classified."""
    return list_products(storage, finished_plan(run))


def kept_problems(storage: Storage, run: RunRecord, products: list[Product]) -> list[str]:
    """Kept products that no longer match their collected copy, and ``keep`` copies that no longer
    match their record, one line each."""
    manifest = read_manifest(run)
    collected = {entry["source"]: Checksum.from_dict(entry) for entry in manifest.get("products", []) if entry.get("source")}
    problems = []
    for product in products:
        copy = collected.get(product.path)
        if product.action == KEEP and copy is not None:
            problem = _copy_problem(storage, product, copy)
            if problem:
                problems.append(f"{product.path}: {problem}")
    for entry in manifest.get(KEPT, []):
        kept = Checksum.from_dict(entry)
        problem = storage_problem(kept, storage) if is_remote(kept.path) else local_problem(kept)
        if problem:
            problems.append(f"kept copy {kept.path}: {problem}")
    return problems


def _copy_problem(storage: Storage, product: Product, copy: Checksum) -> str | None:
    stored = storage_problem(Checksum(product.path, copy.size, copy.md5, None), storage)
    if stored:
        return f"differs from its collected copy {copy.path} ({stored})"
    local = local_problem(copy)
    return f"its collected copy {copy.path} is damaged ({local})" if local else None


def clean_run(storage: Storage, run: RunRecord, products: list[Product]) -> list[dict]:
    """Remove the products classified *remove*, once every kept one is proven intact; returns what
    was removed (also recorded in ``run.json``)."""
    problems = kept_problems(storage, run, products)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TaskFailed(f"clean {run.id}: {problems[0]}{more}; nothing removed")
    removed: list[dict] = []
    try:
        for product in (p for p in products if p.action == REMOVE):
            found = storage.stat(product.path)
            storage.remove(product.path)
            removed.append({"path": product.path, "size": product.size, "md5": found.md5 if found else None, "time": now_iso()})
        _remove_emptied_folders(storage, run, [p for p in products if p.action == REMOVE])
    finally:
        if removed:
            record_in_manifest(storage, run, REMOVED, removed)
    return removed


def _remove_emptied_folders(storage: Storage, run: RunRecord, removed: list[Product]) -> None:
    """Folders (cubelets) left empty inside the run's folder, deepest first."""
    top = (run.remote_dir or "").rstrip("/")
    folders = {str(Path(p.relative).parent) for p in removed} - {"."}
    for folder in sorted(folders, key=lambda f: f.count("/"), reverse=True):
        path = f"{top}/{folder}"
        if not storage.listdir(path):
            storage.remove(path)
