"""The ``retry`` command: relaunch a run's failed tasks as new attempts, optionally with more resources.

``retry RUN_ID`` relaunches every failed or lost task of the run (``--tasks task-003,task-017``
picks some; ``--failed`` says the default out loud), with ``--cores``/``--ram`` when given, then
watches and collects like ``resume`` and prints the run's outcome. ``--dry-run`` lists what would be
relaunched with which resources and changes nothing. Exit codes as ``run``: 0 every task has a
result, 1 some task failed or was lost, 2 bad usage (unknown task, nothing to retry, a run being
driven, resources not offered), 3 auth, 4 unreachable.
"""

from __future__ import annotations

import asyncio

from rich.table import Table

from srcnet_tui.core.cli import runs as runs_cli
from srcnet_tui.core.cli.arguments import positive_int
from srcnet_tui.core.cli.output import print_json, stdout
from srcnet_tui.core.cli.sessions import settings_from_args
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.retry import Retry, RetryPlan, preview_retry, retry_run


def _task_names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise UsageError("--tasks: name at least one task, e.g. --tasks task-003,task-017")
    return names


def retry_table(plan: RetryPlan) -> Table:
    table = Table(title=f"run {plan.run.id}: {len(plan.tasks)} task(s) to retry", title_justify="left")
    for column in ("task", "attempt", "cores", "RAM GB", "why it ended"):
        table.add_column(column, justify="left" if column in ("task", "why it ended") else "right", no_wrap=column == "task")
    for row in plan.to_json()["tasks"]:
        table.add_row(row["task"], str(row["attempt"]), str(row["cores"]), str(row["ram_gb"]), row["message"] or row["state"])
    return table


def cmd_retry(args) -> int:
    settings = settings_from_args(args)
    retry = Retry(_task_names(args.tasks) if args.tasks else None, args.cores, args.ram)
    if args.dry_run:
        plan = asyncio.run(preview_retry(settings, args.run_id, retry))
        print_json(plan.to_json()) if args.json else stdout.print(retry_table(plan))
        return 0
    reporter = runs_cli.CliReporter()
    work = retry_run(
        settings, args.run_id, retry, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching
    )
    return runs_cli.finish_run(args, reporter, work)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retry",
        help="relaunch a run's failed or lost tasks as new attempts (optionally with more cores or RAM)",
        description="Relaunch only the chosen tasks of a run (default: every failed or lost one) as new attempts; "
        "nothing that completed is launched again. Then watch and collect like resume.",
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tasks", metavar="TASK,...", help="the tasks to retry: task-003,task-017 (or their numbers)")
    which.add_argument("--failed", action="store_true", help="every failed or lost task (the default)")
    parser.add_argument("--cores", type=positive_int, metavar="N", help="cores per retried task")
    parser.add_argument("--ram", type=positive_int, metavar="GB", help="RAM per retried task")
    parser.add_argument("--dry-run", action="store_true", help="list what would be relaunched; change nothing")
    runs_cli.add_wait_options(parser)
    parser.set_defaults(handler=cmd_retry)
