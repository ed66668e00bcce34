"""The ``record``, ``aggregate`` and ``usage`` commands: profile a workload, account for profile logs,
and report over the run ledger's history (seff/sacct-like efficiencies, per run, day or site)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from srcnet_tui.core import settings as settings_module
from srcnet_tui.core.cli.output import notice, print_json, stdout
from srcnet_tui.core.errors import NotFound, SrcnetError, UsageError
from srcnet_tui.core.task import recorder

if TYPE_CHECKING:
    from srcnet_tui.core.accounting import TaskAccount
    from srcnet_tui.core.runs.ledger import RunRecord

# pandas, pyarrow and the ledger are imported by the commands that need them: ``record`` starts fast.


def register(subparsers) -> None:
    record = subparsers.add_parser(
        "record",
        help="run a command without a shell and log its CPU, memory and I/O",
        description="Run CMD without a shell, sample its process tree (psrecord CSV columns), "
        "write a summary JSON beside the log and exit with CMD's status.",
        usage="srcnet-tui --headless record --log FILE [--interval S] [--grace S] -- CMD [ARG ...]",
    )
    recorder.add_record_options(record)
    record.set_defaults(handler=run_record)

    aggregate = subparsers.add_parser(
        "aggregate",
        help="CPU-hours, peaks and efficiency from profile logs",
        description="Aggregate psrecord (plain or CSV) and recorder logs; folders are searched for *.csv, *.txt and *.log files.",
    )
    aggregate.add_argument("paths", nargs="+", metavar="DIR_OR_FILES")
    aggregate.add_argument("--cores", type=float, help="cores each run was given (for allocated core-hours)")
    aggregate.add_argument("--json", action="store_true", help="print the report as JSON")
    aggregate.add_argument("--csv", metavar="FILE", help="also write one row per run to FILE")
    aggregate.set_defaults(handler=run_aggregate)

    history = subparsers.add_parser(
        "usage",
        help="what runs cost and how efficiently they used it (seff/sacct), from the ledger",
        description="Core-hours used and allocated, CPU, memory and time efficiency and queue waits of the runs "
        "in the ledger, per run, UTC day or site; --run shows one run's tasks and their efficiency histograms.",
    )
    history.add_argument("--since", default="30d", help="runs created since: a span (30d, 12h, 2w) or a date YYYY-MM-DD")
    history.add_argument("--site", dest="site_filter", metavar="S", help="only runs made at site S")
    history.add_argument("--by", choices=("run", "day", "site"), default="run", help="one row per run, UTC day or site")
    history.add_argument("--run", dest="run_id", metavar="RUN_ID", help="one run: a row per task attempt, and histograms")
    history.add_argument("--json", action="store_true", help="print the report as JSON")
    history.add_argument("--csv", metavar="FILE", help="also write the rows to FILE")
    history.set_defaults(handler=run_usage)


def run_record(args) -> int:
    try:
        return recorder.record(args.workload, args.log, args.interval, grace_s=args.grace)
    except ValueError as exc:
        raise UsageError(f"record: {exc}") from None
    except OSError as exc:
        raise UsageError(f"record: cannot write log {args.log}: {exc.strerror or exc}") from None


def run_aggregate(args) -> int:
    from srcnet_tui.core import accounting, usage

    if args.cores is not None and not args.cores > 0:
        raise UsageError(f"--cores must be positive, got {args.cores:g}")
    loaded = usage.load(args.paths, columns=usage.AGGREGATE_COLUMNS)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not loaded.runs:
        raise UsageError(f"no profile log could be read from {' '.join(args.paths)}")
    accounts = _ledger_accounts(args)
    requested = {str(run.source): float(cores) for run in loaded.runs if (cores := _requested_cores(accounts, run.source))}
    report = accounting.with_accounts(usage.aggregate(loaded.runs, cores=args.cores or requested), accounts)
    if args.csv:
        write_csv(report["runs"], Path(args.csv))
    if args.json:
        print_json(report)
    else:
        stdout.print(usage.render_table(report))
        _say_requests(report.get("requests_note"))
    return 0


def _say_requests(note: str | None) -> None:
    """The line under a table whose memory efficiencies the ledger gave: run tasks' requests are fixed, never flexible."""
    if note:
        stdout.print(f"Memory: {note}", markup=False, highlight=False, soft_wrap=False)  # wrapped to the terminal


def _requested_cores(accounts: dict[str, TaskAccount], log: Path) -> int | None:
    account = accounts.get(os.path.realpath(log))
    return account.cores if account else None


def _ledger_accounts(args) -> dict[str, TaskAccount]:
    """The ledger's attempts by profile log, when there is a usable ledger: ``aggregate`` works on any
    logs without one, so a ledger it cannot read is a warning, not a failure."""
    from srcnet_tui.core import accounting

    try:
        ledger = accounting.open_history(_state_dir(args))
        if ledger is None:
            return {}
        with ledger:
            return accounting.accounts_by_log(ledger)
    except SrcnetError as exc:
        print(f"warning: the run ledger was not consulted: {exc}", file=sys.stderr)
        return {}


def _state_dir(args) -> Path:
    return settings_module.resolve(args.backend, args.url, args.token, args.cert, args.state_dir).state_dir


def run_usage(args) -> int:
    from srcnet_tui.core import accounting

    since = accounting.parse_since(args.since)
    state_dir = _state_dir(args)
    ledger = accounting.open_history(state_dir)
    if args.run_id:
        if ledger is None:
            raise NotFound(f"run {args.run_id}: there is no run ledger in {state_dir}")
        with ledger:
            run = ledger.run(args.run_id)
            return _report_run(args, run, accounting.run_accounts(run, ledger.attempts(run.id)))
    rows: list[tuple[RunRecord, list[TaskAccount]]] = []
    if ledger is not None:
        with ledger:
            rows = accounting.history(ledger, since, args.site_filter)
    groups = accounting.summarise(rows, args.by)
    report = {
        "since": accounting.iso_utc(since),
        "site": args.site_filter,
        "by": args.by,
        "groups": groups,
        "total": accounting.totals([a for _, accounts in rows for a in accounts]),
        "requests_note": accounting.FIXED_TASKS_NOTE,
    }
    if args.csv:
        write_csv([_flat(group) for group in groups], Path(args.csv))
    if args.json:
        print_json(report)
    elif groups:
        stdout.print(groups_table(report))
        _say_requests(report["requests_note"])
    else:
        notice(f"no runs since {report['since']}" + (f" at {args.site_filter}" if args.site_filter else ""))
    return 0


def _report_run(args, run: RunRecord, accounts: list[TaskAccount]) -> int:
    from srcnet_tui.core import accounting

    histograms = {
        "cpu_efficiency": accounting.histogram(a.cpu_efficiency for a in accounts),
        "mem_efficiency": accounting.histogram(a.mem_efficiency for a in accounts),
    }
    tasks = [a.to_json() for a in accounts]
    if args.csv:
        write_csv(tasks, Path(args.csv))
    if args.json:
        print_json({"run_id": run.id, "site": run.where, "tasks": tasks, "total": accounting.totals(accounts),
                    "histograms": histograms, "requests_note": accounting.FIXED_TASKS_NOTE})  # fmt: skip
        return 0
    stdout.print(tasks_table(run.id, accounts))
    _say_requests(accounting.FIXED_TASKS_NOTE)
    for account in accounts:
        if account.cause and account.state != "completed":
            stdout.print(f"{account.task} #{account.attempt}: {account.cause}", markup=False, highlight=False)
    for name, title in (("cpu_efficiency", "CPU efficiency"), ("mem_efficiency", "Memory efficiency")):
        measured = sum(histograms[name])
        for line in accounting.histogram_lines(f"{title} of {measured} measured attempt(s)", histograms[name]):
            stdout.print(line, markup=False, highlight=False)
    return 0


def _flat(group: dict) -> dict:
    """A group row for CSV: the per-state counts as ``state_NAME`` columns."""
    states = group.get("states", {})
    return {**{k: v for k, v in group.items() if k != "states"}, **{f"state_{k}": n for k, n in states.items()}}


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)


def groups_table(report: dict) -> Table:
    """One row per run, day or site: tasks, attempts, wall, core-hours, efficiencies, queue wait."""
    from srcnet_tui.core import usage

    by = report["by"]
    table = _table(f"Usage since {report['since'][:10]}, by {by}")
    for column in (by, "tasks", "att", "wall", "CPU-h", "alloc-h", "CPU", "mem", "wait"):
        table.add_column(column, justify="left" if column == by else "right", no_wrap=column == by)
    for group in report["groups"]:
        table.add_row(
            str(group[by]),
            str(group["tasks"]),
            str(group["attempts"]),
            usage.format_duration(group["wall_s"]),
            usage.format_number(group["cpu_hours"]),
            usage.format_number(group["alloc_core_hours"]),
            usage.format_percent(group["cpu_efficiency"]),
            usage.format_percent(group["mem_efficiency"]),
            _wait(group["queue_wait_mean_s"]),
        )
    return table


def tasks_table(run_id: str, accounts: list[TaskAccount]) -> Table:
    """A row per task attempt, as seff reports a job: state, wait, wall, request, used core-hours, efficiencies."""
    from srcnet_tui.core import usage

    table = _table(f"Run {run_id}")
    for column in ("task", "#", "state", "wait", "wall", "cores", "GiB", "CPU-h", "CPU", "mem"):
        table.add_column(column, justify="left" if column in ("task", "state") else "right", no_wrap=column == "task")
    for a in accounts:
        table.add_row(
            a.task,
            str(a.attempt),
            f"{a.state} (wasted)" if a.wasted else a.state,
            _wait(a.queue_wait_s),
            "—" if a.wall_s is None else usage.format_duration(a.wall_s),
            "—" if a.cores is None else str(a.cores),
            "—" if a.ram_gib is None else str(a.ram_gib),
            usage.format_number(a.cpu_hours),
            usage.format_percent(a.cpu_efficiency),
            usage.format_percent(a.mem_efficiency),
        )
    return table


def _wait(seconds: float | None) -> str:
    from srcnet_tui.core import usage

    return "—" if seconds is None else usage.format_duration(seconds)


def write_csv(rows: list[dict], path: Path) -> None:
    import pandas as pd

    try:
        pd.DataFrame(rows).to_csv(path, index=False)
    except OSError as exc:
        raise UsageError(f"--csv {path}: {exc.strerror or exc}") from None
