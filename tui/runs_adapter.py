"""The Runs pane's calls into core.runs: the ledger, a run's folder, launch and resume.

Everything here blocks (SQLite, files, the orchestrator's own event loop), so the pane calls it
through ``asyncio.to_thread``; each function opens what it needs and closes it before returning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from core.runs.ledger import Ledger
from core.settings import Settings

_context_cache: dict[int, dict | None] = {}
MAX_FILES_SHOWN = 40


def list_runs(settings: Settings, limit: int = 200) -> list[Any]:
    """Runs of the ledger, newest first."""
    with Ledger(settings.state_dir) as ledger:
        return ledger.runs(limit)


def folder_listing(folder: Path) -> Text:
    """The files of a run's local folder, relative, with sizes (the run's results)."""
    if not folder.is_dir():
        return Text(f"{folder} (not there yet)", style="dim")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    text = Text()
    for path in files[:MAX_FILES_SHOWN]:
        text.append(f"  {path.relative_to(folder)}", style="bold" if "_cat" in path.name else "")
        text.append(f"  {path.stat().st_size:,} B\n", style="dim")
    if len(files) > MAX_FILES_SHOWN:
        text.append(f"  … and {len(files) - MAX_FILES_SHOWN} more\n", style="dim")
    return text or Text("  (empty)", style="dim")


def describe_run(settings: Settings, run: Any) -> Group:
    """A run's tasks with their sessions and states, and its folder of results."""
    with Ledger(settings.state_dir) as ledger:
        tasks = ledger.tasks(run.id)
    table = Table(expand=True)
    for column in ("#", "session name", "session id", "state", "exit", "message"):
        table.add_column(column)
    for task in tasks:
        exit_code = "" if task.exit_code is None else str(task.exit_code)
        table.add_row(str(task.index), task.name, task.session_id or "", task.state, exit_code, task.message or "")
    head = Text.assemble(
        (f"{run.kind} run, {run.phase}", "bold"), f"\nconfig: {run.config or '-'} [{run.section or '-'}]",
        f"\nremote folder: {run.remote_dir or '-'}\nlocal folder: {run.local_dir or '-'}\n",
    )  # fmt: skip
    parts = [head, table]
    if run.local_dir:
        parts += [Text("\nresults:", style="bold"), folder_listing(Path(run.local_dir))]
    return Group(*parts)


async def platform_context(platform: Any) -> dict | None:
    """The platform's ``/context`` (resource options) for checking a plan; None when unreachable."""
    key = id(platform)
    if key not in _context_cache:
        try:
            client = await platform.client()
            _context_cache[key] = await client.context()
        except Exception:  # the preview still works without the platform's options
            return None
    return _context_cache[key]
