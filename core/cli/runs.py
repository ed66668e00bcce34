"""The run commands: run, parallel, runs, resume, quickstart.

``run`` and ``parallel`` read the seed's config.ini (extended), name their run id on stderr before
anything is launched, and end with the usage table of the run; ``--no-wait`` returns once every
task is launched, ``--dry-run`` prints the plan and touches nothing. ``resume RUN_ID`` finishes a
run that was interrupted at any moment. Exit codes: 0 every task gave a result (SoFiA's "no
sources" included), 1 a task failed or was lost, 2 config, 3 auth, 4 unreachable.
"""

from __future__ import annotations

import asyncio
import shlex
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from rich import box
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from srcnet_tui.core import settings as settings_module
from srcnet_tui.core.cli.arguments import positive_int
from srcnet_tui.core.cli.output import command_prefix, notice, print_json, stderr, stdout
from srcnet_tui.core.cli.sessions import settings_from_args
from srcnet_tui.core.errors import SrcnetError, UsageError
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs import quickstart
from srcnet_tui.core.runs.launching import LAUNCH_CONCURRENCY
from srcnet_tui.core.runs.ledger import AttemptRecord, Ledger, RunRecord, TaskRecord
from srcnet_tui.core.runs.manifest import attempts_by_task, task_entry
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


PREDECESSORS = {
    L.PLANNED: (L.FAILED, L.LOST, L.PLANNED, L.LAUNCHING, L.LAUNCHED),
    L.LAUNCHING: (L.PLANNED, L.LAUNCHING),
    L.LAUNCHED: (L.LAUNCHING, L.PLANNED, L.LAUNCHED),
}
"""The states a task most likely left for the one it reached (a finished one: any unfinished state)."""
_UNFINISHED = (L.LAUNCHED, L.LAUNCHING, L.PLANNED)
P = ParamSpec("P")
T = TypeVar("T")


class RunTally:
    """How many of a run's tasks are pending, running, done and failed, from the counts the run started
    with and the changes reported since (a task's earlier state is inferred the first time it changes)."""

    def __init__(self, counts: dict[str, int]):
        self.unseen = dict(counts)
        self.seen: dict[int, TaskRecord] = {}

    def change(self, task: TaskRecord) -> None:
        if task.index not in self.seen:
            for state in PREDECESSORS.get(task.state, _UNFINISHED):
                if self.unseen.get(state, 0) > 0:
                    self.unseen[state] -= 1
                    break
        self.seen[task.index] = task

    def groups(self) -> dict[str, int]:
        """``pending`` (planned or launching), ``running`` (launched), ``done``, ``failed`` (or lost)."""
        counts = dict.fromkeys(("pending", "running", "done", "failed"), 0)
        for state, n in self.unseen.items():
            counts[_group(state)] += n
        for task in self.seen.values():
            counts[_group(task.state)] += 1
        return counts

    def describe(self) -> str:
        return ", ".join(f"{n} {name}" for name, n in self.groups().items())


def _group(state: str) -> str:
    if state in L.SUCCESS_STATES:
        return "done"
    if state in (L.FAILED, L.LOST):
        return "failed"
    return "running" if state == L.LAUNCHED else "pending"


def task_detail(task: TaskRecord) -> str:
    """What follows a task's state on its progress line: its session, how it ended (the exit code said
    once: a cause's message such as ``exit 7: ERROR ...`` already names it) and the advice."""
    detail = f" session {task.session_id}" if task.session_id else ""
    message = task.message if task.state != L.COMPLETED else None
    if task.exit_code is not None and not (message or "").startswith(f"exit {task.exit_code}"):
        detail += f", exit {task.exit_code}"
    if message:
        detail += f" ({message})"
    if task.advice and task.state != L.COMPLETED:
        detail += f"; {task.advice}"
    return detail


class CliReporter(Reporter):
    """Progress on stderr: the run id first, then one line per task change worth knowing, and on a
    terminal a live bar of tasks pending, running, done and failed with the time elapsed.

    Runs of more than ``QUIET_ABOVE`` tasks get one line per phase instead of one per launch;
    finished tasks are always named. Use it as a context manager around the run, so the bar stops.
    """

    QUIET_ABOVE = 20

    def __init__(self):
        self.run_id: str | None = None
        self.quiet_launches = False
        self.live = stderr.is_terminal
        self.tally = RunTally({})
        self.progress: Progress | None = None
        self.bar: TaskID | None = None
        self.upload_bar: TaskID | None = None
        self.upload_sizes: list[int] = []
        self.uploads_started = 0

    def __enter__(self) -> CliReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self._update_bar()
            self.progress.stop()

    def run_started(self, run: RunRecord) -> None:
        self.run_id = run.id
        self.quiet_launches = run.tasks > self.QUIET_ABOVE
        self.tally = RunTally(run.counts)
        stderr.print(
            f"run {run.id}: {run.tasks} task(s), {run.kind}; outputs {run.remote_dir}; results {run.local_dir}", highlight=False
        )
        if self.live and self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[count]}"),
                TextColumn("{task.fields[tally]}"),
                TimeElapsedColumn(),
                console=stderr,
                refresh_per_second=4,
            )
            self.bar = self.progress.add_task(f"run {run.id}", total=run.tasks, tally=self.tally.describe(), count="")
            self.progress.start()
            self._update_bar()

    def _update_bar(self) -> None:
        if self.progress is not None and self.bar is not None:
            groups = self.tally.groups()
            finished = groups["done"] + groups["failed"]
            total = sum(groups.values())
            self.progress.update(self.bar, completed=finished, tally=self.tally.describe(), count=f"{finished}/{total}")

    def uploads(self, sizes: list[int]) -> None:
        self.upload_sizes, self.uploads_started = sizes, 0
        if self.progress is not None and sizes:
            self.upload_bar = self.progress.add_task("uploads", total=max(sum(sizes), 1), tally="", count="")

    def uploading(self, local: Path, size: int) -> None:
        self.uploads_started += 1
        if self.progress is None or self.upload_bar is None:
            return
        done = sum(self.upload_sizes[: self.uploads_started - 1])
        total = sum(self.upload_sizes)
        self.progress.update(
            self.upload_bar,
            completed=done,
            count=f"{self.uploads_started}/{len(self.upload_sizes)} files",
            tally=f"{decimal(done)} of {decimal(total)}; now {local.name} ({decimal(size)})",
        )

    def _uploads_done(self) -> None:
        if self.progress is not None and self.upload_bar is not None:
            total = sum(self.upload_sizes)
            files = len(self.upload_sizes)
            self.progress.update(self.upload_bar, completed=max(total, 1), count=f"{files}/{files} files", tally=decimal(total))
            self.upload_bar = None

    def phase(self, run_id: str, phase: str) -> None:
        if phase == "staged":
            self._uploads_done()
        if self.quiet_launches and phase in ("launching", "watching", "collecting"):
            notice(f"run {run_id}: {phase}")

    def task_changed(self, task: TaskRecord) -> None:
        self.tally.change(task)
        self._update_bar()
        if task.state in (L.LAUNCHING, L.PLANNED) or (task.state == L.LAUNCHED and self.quiet_launches):
            return
        line = Text.assemble(
            f"{task_label(task.index)} {task.name}: ", (task.state, STATE_STYLE.get(task.state, "")), task_detail(task)
        )
        stderr.print(line, highlight=False)

    def task_failed(self, task: TaskRecord, tail: list[str]) -> None:
        if tail:
            stderr.print(f"last lines of {task_label(task.index)} ({task.name}):", style="red", highlight=False)
            for line in tail:
                stderr.print(f"  {line}", markup=False, highlight=False)

    def notice(self, message: str) -> None:
        notice(message)


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"{plan.run_kind} run: {len(plan.tasks)} task(s)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("#", "session name", "region", "parameter file", "cores", "RAM GiB"):
        numeric = column in ("#", "cores", "RAM GiB")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
    for task in plan.tasks:
        table.add_row(str(task.index), task.name, str(task.region or "-"), task.par_file, str(task.cores), str(task.ram_gb))
    return table


def print_plan(plan: Plan) -> None:
    settings = Table(title=f"{plan.config.path.name} [{plan.config.section}]", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("key", "value", "note"):
        settings.add_column(column, no_wrap=column == "key", overflow="fold")  # paths fold onto more lines, never cut
    for key, value, note in plan.config.describe():
        settings.add_row(key, "-" if value in (None, {}, "") else str(value), note)
    stdout.print(settings)
    stdout.print(plan_table(plan))
    for label, value in (("image", plan.image), ("outputs", plan.output_dir), ("input", plan.input_data)):
        if value:  # commands, Jobs and submit files read no input data
            stdout.print(f"{label}: {value}", highlight=False)  # one a line: long paths wrap whole, never cut
    for upload in plan.uploads:
        stdout.print(f"upload: {upload.local} -> {upload.remote}", highlight=False)
    if plan.tasks:
        stdout.print(f"task command: {shlex.join(plan.tasks[0].command_line)}", markup=False, highlight=False)
    if plan.estimate:
        stdout.print(plan.estimate.line(), markup=False, highlight=False)
    for line in plan.adjustments:
        notice(line)
    for warning in plan.warnings:
        notice(f"warning: {warning}")


def print_result(result: RunResult, as_json: bool) -> None:
    """The outcome: JSON on stdout, or the usage table on stdout and a summary on stderr."""
    run = result.run
    if as_json:
        by_task = attempts_by_task(result.attempts)
        print_json(
            {
                **run_json(run),
                "exit_code": result.exit_code,
                "usage": result.usage,
                "merged": result.merged,
                "tasks_detail": [_task_json(t, by_task.get(t.index, [])) for t in result.tasks],
            }
        )
    elif not result.waited:
        cli = command_prefix()
        notice(f"run {run.id}: launched; follow it with `{cli} runs --refresh`, finish it with `{cli} resume {run.id}`")
    else:
        _print_finished(result)
    if result.waited and any(t.state == L.LOST for t in result.tasks):
        notice(f"lost tasks are relaunched by `{command_prefix()} resume {run.id}`")


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
    failures = result.failure_report(command_prefix())
    if failures:
        notice(failures)


TASK_DETAIL = ("index", "name", "state", "session_id", "exit_code", "message", "cause", "advice", "attempt", "attempts")
"""What ``--json`` shows of each task: fields of its ``run.json`` entry, by the same names."""


def _task_json(task: TaskRecord, attempts: list[AttemptRecord]) -> dict:
    entry = task_entry(task, attempts)
    return {key: entry[key] for key in TASK_DETAIL}


def _run_command(kind: str):
    def handler(args) -> int:
        config = load_config(args.config, kind, args.section)
        settings = settings_from_args(args)
        if args.dry_run:
            plan = asyncio.run(dry_run_plan(settings, config))
            print_json(plan.to_dict()) if args.json else print_plan(plan)
            return 0
        reporter = CliReporter()
        return finish_run(
            args,
            reporter,
            start_run(settings, config, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching),
        )

    return handler


class DaemonThreads(ThreadPoolExecutor):
    """Worker threads that never hold the process up, as the run's default executor.

    ``asyncio.run`` (and the interpreter's exit) wait for the pool's threads, so Ctrl-C during a
    blocking copy (a 2 GB upload) would wait for the copy. The ledger already has everything
    ``resume`` needs (as after ``kill -9``), so the CLI ends at once and the copy dies with it. One
    daemon thread per call, none pooled (asyncio accepts only a ThreadPoolExecutor as its default):
    the calls are ledger writes and file transfers, few beside the work they do.
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()

        def work() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, as ThreadPoolExecutor does
                    future.set_exception(exc)

        threading.Thread(target=work, name="srcnet-cli-worker", daemon=True).start()
        return future


def drive(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)`` with :class:`DaemonThreads` for ``asyncio.to_thread``: Ctrl-C stops it at once."""

    async def with_daemon_threads() -> T:
        asyncio.get_running_loop().set_default_executor(DaemonThreads())
        return await work

    return asyncio.run(with_daemon_threads())


def finish_run(args, reporter: CliReporter, work) -> int:
    """Drive the run; on Ctrl-C say how to pick it up again (the ledger already has everything)."""
    try:
        with reporter:
            result = drive(work)
    except KeyboardInterrupt:
        if reporter.run_id:
            notice(
                f"run {reporter.run_id} interrupted; sessions already launched keep running. "
                f"Finish it with: {command_prefix()} resume {reporter.run_id}"
            )
        raise
    except (SrcnetError, OSError):  # OSError: e.g. the results folder became unusable mid-run
        if reporter.run_id:
            notice(
                f"run {reporter.run_id} stopped; once the problem below is fixed, finish it with: "
                f"{command_prefix()} resume {reporter.run_id}"
            )
        raise
    print_result(result, args.json)
    return result.exit_code


def cmd_resume(args) -> int:
    settings = settings_from_args(args)
    reporter = CliReporter()
    return finish_run(
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
    """One line per run, 80 columns for the usual ids and sites: where it ran, its phase and its task counts."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=0, show_edge=False)
    for column in ("run", "created UTC", "kind", "site", "phase", "done", "ok", "fail", "lost"):
        counted = column in ("done", "ok", "fail", "lost")
        table.add_column(column, no_wrap=column != "site", overflow="fold", justify="right" if counted else "left")
    for run in runs:
        counts = run.counts
        ok = counts.get(L.COMPLETED, 0) + counts.get(L.NO_SOURCES, 0)
        created = run.to_json()["created"][5:16].replace("T", " ")
        table.add_row(
            run.id,
            created,
            run.kind,
            run.where or "-",
            run.phase,
            f"{run.done}/{run.tasks}",
            str(ok),
            str(counts.get(L.FAILED, 0)),
            str(counts.get(L.LOST, 0)),
        )
    return table


def run_json(run: RunRecord) -> dict:
    """A run as ``runs --json`` lists it: the ledger's fields, and run.json's names for the same values
    (``run_id`` beside ``id``, ``output_dir`` beside ``remote_dir``)."""
    listed = run.to_json()
    return {"id": listed["id"], "run_id": run.id, **listed, "output_dir": run.remote_dir}


def cmd_runs(args) -> int:
    settings = settings_module.from_args(args)
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
        print_json([run_json(run) for run in runs])
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
    for path in example.kept:
        notice(f"quickstart: kept your edited {path} (delete it to get the quickstart's own)")
    config = load_config(example.config, "parallel", quickstart.SECTION)
    reporter = CliReporter()
    code = finish_run(
        args,
        reporter,
        start_run(settings, config, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching),
    )
    notice(
        f"next: edit {example.config} and run `{command_prefix()} parallel {example.config} "
        f"--section {quickstart.SECTION}`, or open the TUI with `{command_prefix().removesuffix(' --headless')}`"
    )
    return code


def add_wait_options(parser) -> None:
    """``--no-wait``, ``--json`` and ``--max-launching``: the options of every command that drives a run."""
    parser.add_argument("--no-wait", action="store_true", help="return once every task is launched")
    parser.add_argument("--json", action="store_true", help="print the result (or the plan) as JSON")
    parser.add_argument(
        "--max-launching",
        type=positive_int,
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
        add_wait_options(parser)
    parser = _command(subparsers, "runs", "runs in the ledger, newest first", cmd_runs)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--refresh", action="store_true", help="ask the platform first which launched tasks have ended")
    add_wait_options(_command(subparsers, "resume", "finish an interrupted run", cmd_resume, run_id=True))
    parser = _command(subparsers, "merge", "merge (again) the catalogues of a finished split run", cmd_merge, run_id=True)
    parser.add_argument("--tolerance", help="match distance: PIXELS or PIXELS,CHANNELS (default 3,3)")
    parser.add_argument("--json", action="store_true")
    parser = _command(subparsers, "quickstart", "PyBDSF on a generated image: a split run on the local server", cmd_quickstart)
    parser.add_argument("--dir", help="folder for the example's config, image and results (default ./srcnet-quickstart)")
    add_wait_options(parser)
