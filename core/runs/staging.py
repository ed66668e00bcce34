"""Staging: the run's inputs and parameter files onto storage, and every task's output folder.

Staging is idempotent (an upload skips an identical file, folders that exist are fine), so a
resumed run simply stages again; an input whose local copy is gone since the first staging is kept
as staged. Storage blocks, so each transfer runs in a worker thread.

Two runs can name the same staged file (a shared ``vos_dir`` and ``image_file``): a run never
overwrites a staged input another unfinished run reads, it stops with one line instead. What was
staged is recorded (size, MD5, SHA-256) when it is staged, so ``run.json`` describes what the tasks
read, not what the local file became later.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs import checksums
from srcnet_tui.core.runs.checksums import Checksum
from srcnet_tui.core.runs.ledger import PLANNED, Ledger, TaskRecord
from srcnet_tui.core.runs.scope import RunScope
from srcnet_tui.core.runs.spec import RunPlan, Upload
from srcnet_tui.core.runs.storage import Digests, Storage, file_digests


async def stage(scope: RunScope) -> None:
    """Upload inputs and parameter files, record their checksums, create every task's output folder."""
    await scope.phase("staging")
    in_use = await asyncio.to_thread(inputs_in_use, scope.ledger, scope.run_id)
    staged = []
    scope.reporter.uploads([_size(upload.local) for upload in scope.plan.uploads])
    for upload in scope.plan.uploads:
        scope.reporter.uploading(upload.local, _size(upload.local))
        line, checksum = await asyncio.to_thread(stage_upload, scope.storage, upload, in_use)
        scope.reporter.notice(line)
        staged.append(checksum)
    staged += await asyncio.to_thread(stored_inputs, scope.storage, scope.plan)
    await asyncio.to_thread(checksums.record, scope.local_dir, checksums.STAGED, staged)
    await asyncio.to_thread(make_output_folders, scope.storage, await scope.tasks())
    await scope.phase("staged")


def _size(local: Path) -> int:
    try:
        return local.stat().st_size
    except OSError:  # gone since planning: staging keeps the copy already on storage
        return 0


def inputs_in_use(ledger: Ledger, run_id: str) -> dict[str, str]:
    """The staged files other runs read, each with the id of one such run: runs that have launched a
    task and not finished (a run refused before it launched anything reads nothing yet)."""
    readers: dict[str, str] = {}
    for listed in ledger.runs():
        if listed.id == run_id or listed.finished is not None or listed.counts.get(PLANNED, 0) == listed.tasks:
            continue
        plan = ledger.run(listed.id).plan
        if plan is not None:
            for path in (plan.input_data, *(upload.remote for upload in plan.uploads)):
                if path:
                    readers.setdefault(path, listed.id)
    return readers


def stage_upload(storage: Storage, upload: Upload, in_use: dict[str, str] | None = None) -> tuple[str, Checksum]:
    """Put one file on storage (unless it is there already); says what happened and what is staged."""
    local, remote = upload.local, upload.remote
    if not local.exists() and (found := storage.stat(remote)) is not None:
        kept = Checksum(remote, found.size, found.md5, storage.sha256(remote))
        return f"kept: {remote} ({local} is gone; using the copy staged before)", kept
    digests = file_digests(local)
    if remote in (in_use or {}):
        _refuse_changing_an_input_in_use(storage, upload, digests, (in_use or {})[remote])
    storage.mkdir_p(remote.rsplit("/", 1)[0])
    result = storage.upload(local, remote)
    sha256 = digests.sha256 if result.md5 == digests.md5 else None  # the file changed while it was sent
    staged = Checksum(remote, result.size, result.md5, sha256, source=str(local))
    return f"{'unchanged' if result.skipped else 'uploaded'}: {local} -> {remote}", staged


def _refuse_changing_an_input_in_use(storage: Storage, upload: Upload, local: Digests, reader: str) -> None:
    found = storage.stat(upload.remote)
    if found is not None and (found.size != local.size or found.md5 not in (None, local.md5)):
        raise UsageError(
            f"{upload.remote}: run {reader} has not finished and reads it; staging {upload.local} (which differs) "
            f"would change that run's input. Let run {reader} finish first, or give this run another vos_dir"
        )


def stored_inputs(storage: Storage, plan: RunPlan) -> list[Checksum]:
    """The input data already on storage (not uploaded by this run), as it is now; none for a run
    without input data (commands, Jobs, submit files)."""
    if not plan.input_data or plan.input_data in {upload.remote for upload in plan.uploads}:
        return []
    found = storage.stat(plan.input_data)
    return [
        Checksum(plan.input_data, found.size if found else None, found.md5 if found else None, storage.sha256(plan.input_data))
    ]


def make_output_folders(storage: Storage, tasks: list[TaskRecord]) -> None:
    for task in tasks:
        storage.mkdir_p(task.spec.outputs.directory)
