"""The ``record`` and ``aggregate`` commands: profile a workload, and account for profile logs."""

from __future__ import annotations

import sys
from pathlib import Path

from srcnet_tui.core.cli.output import print_json, stdout
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.task import recorder


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


def run_record(args) -> int:
    try:
        return recorder.record(args.workload, args.log, args.interval, grace_s=args.grace)
    except ValueError as exc:
        raise UsageError(f"record: {exc}") from None
    except OSError as exc:
        raise UsageError(f"record: cannot write log {args.log}: {exc.strerror or exc}") from None


def run_aggregate(args) -> int:
    from srcnet_tui.core import usage  # pandas is slow to import; only this command needs it

    if args.cores is not None and not args.cores > 0:
        raise UsageError(f"--cores must be positive, got {args.cores:g}")
    loaded = usage.load(args.paths, columns=usage.AGGREGATE_COLUMNS)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not loaded.runs:
        raise UsageError(f"no profile log could be read from {' '.join(args.paths)}")
    report = usage.aggregate(loaded.runs, cores=args.cores)
    if args.csv:
        write_csv(report, Path(args.csv))
    if args.json:
        print_json(report)
    else:
        stdout.print(usage.render_table(report))
    return 0


def write_csv(report: dict, path: Path) -> None:
    import pandas as pd

    try:
        pd.DataFrame(report["runs"]).to_csv(path, index=False)
    except OSError as exc:
        raise UsageError(f"--csv {path}: {exc.strerror or exc}") from None
