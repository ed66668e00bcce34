"""The run commands: run, parallel, runs, resume, quickstart.

``run`` and ``parallel`` read the seed's config.ini (extended), name their run id on stderr before
anything is launched, and end with the usage table of the run; ``--no-wait`` returns once every
task is launched, ``--dry-run`` prints the plan and touches nothing. ``resume RUN_ID`` finishes a
run that was interrupted at any moment. Exit codes: 0 every task gave a result (SoFiA's "no
sources" included), 1 a task failed or was lost, 2 config, 3 auth, 4 unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from srcnet_tui.core import settings as settings_module
from srcnet_tui.core.cli.output import notice, print_json, stderr, stdout
from srcnet_tui.core.cli.sessions import settings_from_args
from srcnet_tui.core.errors import SrcnetError, UsageError
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs import quickstart
from srcnet_tui.core.runs.launching import LAUNCH_CONCURRENCY
from srcnet_tui.core.runs.ledger import Ledger, RunRecord, TaskRecord
from srcnet_tui.core.runs.merge import merge_summary
from srcnet_tui.core.runs.orchestrate import RunResult, merge_run, refresh_runs, resume_run, start_run
from srcnet_tui.core.runs.plan import Plan, task_label
from srcnet_tui.core.runs.preflight import dry_run_plan, load_config
from srcnet_tui.core.runs.scope import Reporter
from srcnet_tui.core.usage import render_table

STATE_STYLE = {
    L.COMPLETED: "green",
    L.NO_SOURCES: "green",
    L.FAILED: "red",
    L.LOST: "red",
    L.LAUNCHED: "cyan",
    L.LAUNCHING: "yellow",
}


class CliReporter(Reporter):
    """Progress on stderr: the run id first, then one line per task change worth knowing.

    Runs of more than ``QUIET_ABOVE`` tasks get one line per phase instead of one per launch;
    finished tasks are always named.
    """

    QUIET_ABOVE = 20

    def __init__(self):
        self.run_id: str | None = None
        self.quiet_launches = False

    def run_started(self, run: RunRecord) -> None:
        self.run_id = run.id
        self.quiet_launches = run.tasks > self.QUIET_ABOVE
        stderr.print(
            f"run {run.id}: {run.tasks} task(s), {run.kind}; outputs {run.remote_dir}; results {run.local_dir}", highlight=False
        )

    def phase(self, run_id: str, phase: str) -> None:
        if self.quiet_launches and phase in ("launching", "watching", "collecting"):
            notice(f"run {run_id}: {phase}")

    def task_changed(self, task: TaskRecord) -> None:
        if task.state in (L.LAUNCHING, L.PLANNED) or (task.state == L.LAUNCHED and self.quiet_launches):
            return
        detail = f" session {task.session_id}" if task.session_id else ""
        if task.exit_code is not None:
            detail += f", exit {task.exit_code}"
        if task.message and task.state != L.COMPLETED:
            detail += f" ({task.message})"
        line = Text.assemble(f"{task_label(task.index)} {task.name}: ", (task.state, STATE_STYLE.get(task.state, "")), detail)
        stderr.print(line, highlight=False)

    def task_failed(self, task: TaskRecord, tail: list[str]) -> None:
        if tail:
            stderr.print(f"last lines of {task_label(task.index)} ({task.name}):", style="red", highlight=False)
            for line in tail:
                stderr.print(f"  {line}", markup=False, highlight=False)

    def notice(self, message: str) -> None:
        notice(message)


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"{plan.run_kind} run: {len(plan.tasks)} task(s)", title_justify="left")
    for column in ("#", "session name", "region", "parameter file", "cores", "RAM GiB"):
        table.add_column(column, justify="right" if column in ("#", "cores", "RAM GiB") else "left")
    for task in plan.tasks:
        table.add_row(str(task.index), task.name, str(task.region or "-"), task.par_file, str(task.cores), str(task.ram_gb))
    return table


def print_plan(plan: Plan) -> None:
    settings = Table(title=f"{plan.config.path.name} [{plan.config.section}]", title_justify="left")
    for column in ("key", "value", "note"):
        settings.add_column(column)
    for key, value, note in plan.config.describe():
        settings.add_row(key, "-" if value in (None, {}, "") else str(value), note)
    stdout.print(settings)
    stdout.print(plan_table(plan))
    stdout.print(f"image: {plan.image}   outputs: {plan.output_dir}   input: {plan.input_data}", highlight=False)
    for upload in plan.uploads:
        stdout.print(f"upload: {upload.local} -> {upload.remote}", highlight=False)
    if plan.tasks:
        first = plan.tasks[0]
        stdout.print(f"task command: {first.cmd} {' '.join(first.args)}", markup=False, highlight=False)
    for line in plan.adjustments:
        notice(line)
    for warning in plan.warnings:
        notice(f"warning: {warning}")


def print_result(result: RunResult, as_json: bool) -> None:
    """The outcome: JSON on stdout, or the usage table on stdout and a summary on stderr."""
    run = result.run
    if as_json:
        print_json(
            {
                **run.to_json(),
                "exit_code": result.exit_code,
                "usage": result.usage,
                "merged": result.merged,
                "tasks_detail": [_task_json(t) for t in result.tasks],
            }
        )
    elif not result.waited:
        notice(f"run {run.id}: launched; follow it with `runs --refresh`, finish it with `resume {run.id}`")
    else:
        _print_finished(result)
    if result.waited and any(t.state == L.LOST for t in result.tasks):
        notice(f"lost tasks are relaunched by `resume {run.id}`")


def _print_finished(result: RunResult) -> None:
    if result.usage:
        stdout.print(render_table(result.usage))
    for problem in result.usage_problems:
        notice(f"usage: {problem}")
    if result.merged:
        merged = result.merged
        notice(f"merged catalogue: {merged['path']}: {merge_summary(merged)}")
    counts = ", ".join(f"{n} {state}" for state, n in result.run.to_json()["counts"].items() if n)
    notice(f"run {result.run.id}: {counts}; results in {result.local_dir}")
    if result.failure_line:
        notice(result.failure_line)


def _task_json(task: TaskRecord) -> dict:
    return {
        "index": task.index,
        "name": task.name,
        "state": task.state,
        "session_id": task.session_id,
        "exit_code": task.exit_code,
        "message": task.message,
        "attempt": task.attempt,
    }


def _run_command(kind: str):
    def handler(args) -> int:
        config = load_config(args.config, kind, args.section)
        settings = settings_from_args(args)
        if args.dry_run:
            plan = asyncio.run(dry_run_plan(settings, config))
            print_json(plan.to_dict()) if args.json else print_plan(plan)
            return 0
        reporter = CliReporter()
        return _finish(
            args,
            reporter,
            start_run(settings, config, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching),
        )

    return handler


def _finish(args, reporter: CliReporter, work) -> int:
    """Drive the run; on Ctrl-C say how to pick it up again (the ledger already has everything)."""
    try:
        result = asyncio.run(work)
    except KeyboardInterrupt:
        if reporter.run_id:
            notice(
                f"run {reporter.run_id} interrupted; sessions already launched keep running. "
                f"Finish it with: srcnet-tui --headless resume {reporter.run_id}"
            )
        raise
    except (SrcnetError, OSError):  # OSError: e.g. the results folder became unusable mid-run
        if reporter.run_id:
            notice(
                f"run {reporter.run_id} stopped; once the problem below is fixed, finish it with: "
                f"srcnet-tui --headless resume {reporter.run_id}"
            )
        raise
    print_result(result, args.json)
    return result.exit_code


def cmd_resume(args) -> int:
    settings = settings_from_args(args)
    reporter = CliReporter()
    return _finish(
        args,
        reporter,
        resume_run(settings, args.run_id, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching),
    )


def _tolerance(text: str) -> tuple[float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 0:
        raise UsageError(f"--tolerance: expected PIXELS or PIXELS,CHANNELS (numbers >= 0), not {text!r}")
    return (values[0], values[-1])


def cmd_merge(args) -> int:
    settings = settings_from_args(args)
    merged = merge_run(settings, args.run_id, _tolerance(args.tolerance) if args.tolerance else None)
    if args.json:
        print_json(merged)
    else:
        stdout.print(f"{merged['path']}: {merge_summary(merged)}", highlight=False)
    return 0


def runs_table(runs: list[RunRecord]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
    for column in ("run", "created UTC", "kind", "phase", "done", "ok", "failed", "lost"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("done", "ok", "failed", "lost") else "left")
    for run in runs:
        counts = run.counts
        ok = counts.get(L.COMPLETED, 0) + counts.get(L.NO_SOURCES, 0)
        created = run.to_json()["created"][5:16].replace("T", " ")
        table.add_row(
            run.id,
            created,
            run.kind,
            run.phase,
            f"{run.done}/{run.tasks}",
            str(ok),
            str(counts.get(L.FAILED, 0)),
            str(counts.get(L.LOST, 0)),
        )
    return table


def cmd_runs(args) -> int:
    settings = settings_module.resolve(args.backend, args.url, args.token, args.cert, args.state_dir)
    state_dir = settings.state_dir
    L.check_state_dir(state_dir)
    if not L.ledger_path(state_dir).exists():
        runs = []
    elif args.refresh:
        runs = asyncio.run(refresh_runs(settings_from_args(args), progress=notice))
    else:
        with Ledger(state_dir) as ledger:
            runs = ledger.runs()
    if args.json:
        print_json([run.to_json() for run in runs])
    elif runs:
        stdout.print(runs_table(runs))
    else:
        notice(f"no runs yet in {L.ledger_path(state_dir)}")
    return 0


def cmd_quickstart(args) -> int:
    quickstart.check_installed()
    if args.backend == "canfar":
        raise UsageError("quickstart: runs on the local server only (PyBDSF is not in the CANFAR task image)")
    settings = settings_module.resolve("local", None, None, None, args.state_dir)
    notice(settings.describe())
    example = quickstart.make_example(Path(args.dir or "srcnet-quickstart"))
    notice(f"quickstart: synthetic image {example.image} ({len(example.sources)} sources), config {example.config}")
    config = load_config(example.config, "parallel", quickstart.SECTION)
    reporter = CliReporter()
    code = _finish(
        args,
        reporter,
        start_run(settings, config, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching),
    )
    notice(
        f"next: edit {example.config} and run `srcnet-tui --headless parallel {example.config} "
        f"--section {quickstart.SECTION}`, or open the TUI with `srcnet-tui`"
    )
    return code


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _add_wait_options(parser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="return once every task is launched")
    parser.add_argument("--json", action="store_true", help="print the result (or the plan) as JSON")
    parser.add_argument(
        "--max-launching",
        type=_positive_int,
        default=LAUNCH_CONCURRENCY,
        metavar="N",
        help=f"create requests in flight at once (default {LAUNCH_CONCURRENCY}; not a cap on running tasks)",
    )


def _command(subparsers, name: str, help: str, handler, run_id: bool = False):
    parser = subparsers.add_parser(name, help=help)
    if run_id:
        parser.add_argument("run_id", metavar="RUN_ID")
    parser.set_defaults(handler=handler)
    return parser


def register(subparsers) -> None:
    for kind, name, what in (("task", "run", "one task"), ("parallel", "parallel", "many tasks")):
        section = "sofia-task" if kind == "task" else "sofia-parallel"
        parser = _command(subparsers, name, f"run {what} ([{section}]) from CONFIG.ini", _run_command(kind))
        parser.add_argument("config", metavar="CONFIG.ini")
        parser.add_argument("--section", help=f"config section (default [{section}])")
        parser.add_argument("--dry-run", action="store_true", help="print the plan; stage and launch nothing")
        _add_wait_options(parser)
    parser = _command(subparsers, "runs", "runs in the ledger, newest first", cmd_runs)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--refresh", action="store_true", help="ask the platform first which launched tasks have ended")
    _add_wait_options(_command(subparsers, "resume", "finish an interrupted run", cmd_resume, run_id=True))
    parser = _command(subparsers, "merge", "merge (again) the catalogues of a finished split run", cmd_merge, run_id=True)
    parser.add_argument("--tolerance", help="match distance: PIXELS or PIXELS,CHANNELS (default 3,3)")
    parser.add_argument("--json", action="store_true")
    parser = _command(subparsers, "quickstart", "PyBDSF on a generated image: a split run on the local server", cmd_quickstart)
    parser.add_argument("--dir", help="folder for the example's config, image and results (default ./srcnet-quickstart)")
    _add_wait_options(parser)
