"""Staging: the run's inputs and parameter files onto storage, and every task's output folder.

Staging is idempotent (an upload skips an identical file, folders that exist are fine), so a
resumed run simply stages again; an input whose local copy is gone since the first staging is kept
as staged. Storage blocks, so each transfer runs in a worker thread.
"""

from __future__ import annotations

import asyncio

from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.scope import RunScope
from srcnet_tui.core.runs.spec import Upload
from srcnet_tui.core.runs.storage import Storage


async def stage(scope: RunScope) -> None:
    """Upload inputs and parameter files, create the run's and every task's output folder."""
    await scope.phase("staging")
    for upload in scope.plan.uploads:
        scope.reporter.notice(await asyncio.to_thread(stage_upload, scope.storage, upload))
    await asyncio.to_thread(make_output_folders, scope.storage, await scope.tasks())
    await scope.phase("staged")


def stage_upload(storage: Storage, upload: Upload) -> str:
    """Put one file on storage (unless it is there already); says what happened."""
    local, remote = upload.local, upload.remote
    if not local.exists() and storage.stat(remote) is not None:
        return f"kept: {remote} ({local} is gone; using the copy staged before)"
    storage.mkdir_p(remote.rsplit("/", 1)[0])
    result = storage.upload(local, remote)
    return f"{'unchanged' if result.skipped else 'uploaded'}: {local} -> {remote}"


def make_output_folders(storage: Storage, tasks: list[TaskRecord]) -> None:
    for task in tasks:
        storage.mkdir_p(task.spec.outputs.directory)
