"""The Runs pane's calls into srcnet_tui.core.runs: workload files, the checked plan, the ledger, a
run's folder and storage footprint, launch, resume, retry and clean.

The ledger and folder reads block (SQLite, files), so the pane calls them through
``asyncio.to_thread``; each opens what it needs and closes it before returning. A launch or a
resume is an ordinary coroutine on the app's own loop (the pane runs it as a worker): the core does
its blocking work in threads, and reports through notifications.

Core's run machinery is imported by the calls that need it, not with this module: the ledger, the
plan and the client bring httpx, psutil and SQLite (about 90 ms), and collecting and orchestrating
:mod:`srcnet_tui.core.usage` (pandas), none of which the Runs pane's first frame needs.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from srcnet_tui.core.errors import SrcnetError, UsageError
from srcnet_tui.core.settings import Settings
from srcnet_tui.tui.wording import plural

if TYPE_CHECKING:
    from srcnet_tui.core.runs.collecting import TaskProfile
    from srcnet_tui.core.runs.config import RunConfig
    from srcnet_tui.core.runs.ledger import RunRecord, TaskRecord
    from srcnet_tui.core.runs.orchestrate import RunResult
    from srcnet_tui.core.runs.plan import Plan
    from srcnet_tui.core.runs.products import Product
    from srcnet_tui.core.runs.retry import Retry
    from srcnet_tui.core.runs.scope import Reporter
    from srcnet_tui.tui.run_reporter import NotifyingReporter as NotifyingReporter

MAX_FILES_SHOWN = 40
MAX_PRODUCTS_ASKED = 30
"""The products a clean's confirmation lists one by one."""
PREVIEW_RUN_ID = "preview"
YAML_SUFFIXES = (".yaml", ".yml")
MAX_TASKS_ASKED = 20
"""The failed tasks a retry's confirmation names one by one."""


def read_ledger(settings: Settings, limit: int = 200) -> tuple[list[RunRecord], dict[str, list[str]]]:
    """Runs of the ledger, newest first, and the session ids of each run's launched tasks
    (whether those are running yet is for the platform to say: a launched session may be Pending)."""
    from srcnet_tui.core.runs.ledger import LAUNCHED, Ledger

    with Ledger(settings.state_dir) as ledger:
        runs = ledger.runs(limit)
        launched = {
            run.id: [task.session_id for task in ledger.tasks(run.id, (LAUNCHED,)) if task.session_id]
            for run in runs
            if run.counts.get(LAUNCHED)
        }
    return runs, launched


def run_profiles(settings: Settings, run: RunRecord) -> list[TaskProfile]:
    """A run's collected profile logs, each named after its task, with the cores the task requested."""
    from srcnet_tui.core.runs.collecting import task_profiles
    from srcnet_tui.core.runs.ledger import Ledger

    if not run.local_dir:
        return []
    with Ledger(settings.state_dir) as ledger:
        return task_profiles(Path(run.local_dir), ledger.tasks(run.id))


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


def describe_run(settings: Settings, run: RunRecord) -> Group:
    """A run's tasks with their sessions, states and attempts, its failed tasks' causes and advice,
    and its folder of results."""
    from srcnet_tui.core.runs.ledger import RETRYABLE_STATES, Ledger

    with Ledger(settings.state_dir) as ledger:
        tasks = ledger.tasks(run.id)
    table = Table(expand=True)
    for column in ("#", "session name", "session id", "state", "attempt", "message"):
        table.add_column(column)
    for task in tasks:
        table.add_row(str(task.index), task.name, task.session_id or "", task.state, str(task.attempt), task.message or "")
    head = Text.assemble(
        (f"{run.kind} run, {run.phase}", "bold"), f"\nconfig: {run.config or '-'} [{run.section or '-'}]",
        f"\nsite: {run.where or '-'}\nremote folder: {run.remote_dir or '-'}\nlocal folder: {run.local_dir or '-'}\n",
    )  # fmt: skip
    parts: list[RenderableType] = [head, table]
    failed = [t for t in tasks if t.state in RETRYABLE_STATES]
    if failed:
        parts += [Text("\nfailed tasks (R retries them):", style="bold red"), Text("\n".join(failure_lines(failed)))]
    if run.local_dir:
        parts += [Text("\nresults:", style="bold"), folder_listing(Path(run.local_dir))]
    return Group(*parts)


def __getattr__(name: str) -> Any:
    """``runs_adapter.NotifyingReporter``, imported when first named: it is a core Reporter, whose module
    brings the ledger and the client (httpx), which the Runs pane's first frame does not need."""
    if name == "NotifyingReporter":
        from srcnet_tui.tui.run_reporter import NotifyingReporter

        return NotifyingReporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def result_line(result: RunResult) -> str:
    """One line about a finished (or launched) run for a notification."""
    states: dict[str, int] = {}
    for task in result.tasks:
        states[task.state] = states.get(task.state, 0) + 1
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    line = f"Run {result.run.id}: {counts}." + (f" Results in {result.local_dir}." if result.local_dir else "")
    return line + " In Runs, u shows its usage." if result.waited else line


async def launch_run(settings: Settings, path: Path, section: str, kind: str, reporter: Reporter) -> str:
    """Plan, record, stage, launch, watch and collect a run from a saved config (orchestrate.start_run)."""
    from srcnet_tui.core.runs.config import load_run_config
    from srcnet_tui.core.runs.orchestrate import start_run

    config = await asyncio.to_thread(load_run_config, path, section=section, kind=kind)
    return result_line(await start_run(settings, config, reporter=reporter))


def failed_tasks(settings: Settings, run_id: str) -> list[TaskRecord]:
    """The run's tasks that ended without a result (failed or lost), with their causes."""
    from srcnet_tui.core.runs.ledger import RETRYABLE_STATES, Ledger

    with Ledger(settings.state_dir) as ledger:
        return ledger.tasks(run_id, RETRYABLE_STATES)


def failures_of(settings: Settings, run_ids: list[str]) -> dict[str, list[str]]:
    """For each run, a line per failed task with its cause (:func:`cause_line`), in one look at the ledger."""
    from srcnet_tui.core.runs.ledger import RETRYABLE_STATES, Ledger

    with Ledger(settings.state_dir) as ledger:
        return {run_id: [cause_line(t) for t in ledger.tasks(run_id, RETRYABLE_STATES)] for run_id in run_ids}


def cause_line(task: TaskRecord) -> str:
    """A failed task's label and its cause in words: ``task-002: out of memory: peak 2.3 GiB of 2 GiB requested``."""
    from srcnet_tui.core.runs.plan import task_label

    return f"{task_label(task.index)}: {task.message or task.state}"


def failure_lines(tasks: list[TaskRecord]) -> list[str]:
    """A line per failed task: its cause (:func:`cause_line`) and the advice when there is some."""
    return [cause_line(t) + (f" — {t.advice}" if t.advice else "") for t in tasks]


def retry_plan(settings: Settings, run_id: str) -> tuple[Retry, str] | None:
    """What ``R`` retries: every failed or lost task, with the RAM their causes advise (else as before),
    and the question that names them and the resources they will use; None when none failed."""
    from srcnet_tui.core.runs.causes import advised_ram
    from srcnet_tui.core.runs.retry import Retry, retried_spec

    tasks = failed_tasks(settings, run_id)
    if not tasks:
        return None
    retry = Retry(ram_gb=advised_ram(tasks))
    lines = []
    for task, line in zip(tasks[:MAX_TASKS_ASKED], failure_lines(tasks)):
        spec = retried_spec(task.spec, retry)
        lines.append(f"  {line}\n    attempt {task.attempt + 1}: {plural(spec.cores, 'core')}, {spec.ram_gb} GiB RAM")
    if len(tasks) > MAX_TASKS_ASKED:
        lines.append(f"  … and {len(tasks) - MAX_TASKS_ASKED} more (enter on the run lists them all)")
    question = f"Retry {plural(len(tasks), 'failed task')} of run {run_id} as new attempts?\n" + "\n".join(lines)
    return retry, question


async def retry_failed_tasks(settings: Settings, run_id: str, retry: Retry, reporter: Reporter) -> str:
    """Relaunch the run's failed tasks as new attempts and drive the run to its end (retry.retry_run)."""
    from srcnet_tui.core.runs.retry import retry_run

    return result_line(await retry_run(settings, run_id, retry, reporter=reporter))


async def resume_existing_run(settings: Settings, run_id: str, reporter: Reporter) -> str:
    """Finish an interrupted run from the ledger (orchestrate.resume_run)."""
    from srcnet_tui.core.runs.orchestrate import resume_run

    return result_line(await resume_run(settings, run_id, reporter=reporter))


# ---- workload files -------------------------------------------------------------------------------


def is_workload_file(path: Path) -> bool:
    """A Kubernetes manifest (``.yaml``) or an HTCondor submit file, rather than a config.ini: a file
    with no ``[section]`` that is not named ``.ini``."""
    if path.suffix.lower() in YAML_SUFFIXES:
        return True
    if path.suffix.lower() == ".ini" or not path.is_file():
        return False
    from srcnet_tui.core.runs.config import config_sections

    try:
        return not config_sections(path)
    except SrcnetError:
        return True  # no section header: a submit description, which its reader checks line by line


def read_workload(path: Path, mounts: dict[str, str]) -> RunConfig:
    """The run a Job/CronJob manifest or an HTCondor submit file asks for, as ``submit FILE`` reads it
    (a submit file that names no container runs in the task image, which carries srcnet-task)."""
    from srcnet_tui.core.runs.config import DEFAULT_IMAGE
    from srcnet_tui.core.runs.kinds import default_vos_dir

    if path.suffix.lower() in YAML_SUFFIXES:
        from srcnet_tui.core.runs.kinds.k8s import read_manifest

        return read_manifest(path, default_vos_dir(), mounts).config
    if mounts:
        raise UsageError(f"{path.name}: an HTCondor submit file mounts no volumes (NAME=/arc/PATH is for manifests)")
    from srcnet_tui.core.runs.kinds.condor import read_submit_file

    return read_submit_file(path, default_vos_dir(), DEFAULT_IMAGE).config


def opened_file(text: str) -> tuple[Path, dict[str, str]]:
    """What the opener was given: a file, then for a manifest ``NAME=/arc/PATH`` volume mounts
    (``submit --mount``'s, the ``--mount`` itself optional, so core's advice can be pasted); words
    are split like a shell's (quotes group), nothing is run."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"{text}: {exc}") from None
    if not words:
        raise UsageError("no file given")
    mounts = {}
    for item in (word for word in words[1:] if word != "--mount"):
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise UsageError(f"{item}: expected a volume mount NAME=/arc/PATH after the file")
        mounts[name] = target
    return Path(words[0]).expanduser(), mounts


# ---- the plan, checked as --dry-run checks it -------------------------------------------------------


async def checked_preview(platform: Any, settings: Settings, config: RunConfig) -> tuple[Plan, str | None]:
    """The plan of ``config`` with every check ``--dry-run`` and the run make (preflight.checked_plan):
    a value the run would refuse raises its UsageError here. When the platform does not answer, the
    plan without its options, and a line saying it was not checked."""
    from srcnet_tui.core.runs.plan import plan_run
    from srcnet_tui.core.runs.preflight import checked_plan
    from srcnet_tui.core.runs.storage import open_storage

    try:
        client = await platform.client()
        storage = open_storage(settings)
        return await checked_plan(config, PREVIEW_RUN_ID, client, storage, settings.state_dir), None
    except UsageError:
        raise
    except (SrcnetError, OSError) as exc:
        plan = await asyncio.to_thread(plan_run, config, PREVIEW_RUN_ID)
        return plan, f"not checked against the platform: {exc}"


def task_env_lines(task: Any) -> list[str]:
    """A task's environment as it is launched, each secret by its name only (``NAME=***``)."""
    return [f"{name}={value}" for name, value in task.env.items()] + [f"{name}=***" for name in task.secret_env]


def plan_details(plan: Plan) -> Text:
    """Every planned task with its cores, RAM, command line and expanded env (secrets masked), the
    estimated products and what was fitted to the platform: what ``submit --dry-run`` prints."""
    from srcnet_tui.core.runs.plan import task_label

    text = Text.assemble((f"{plan.run_kind} run of {plural(len(plan.tasks), 'task')}", "bold"), f", image {plan.image}\n")
    text.append(f"outputs: {plan.output_dir}\n")
    for upload in plan.uploads:
        text.append(f"upload: {upload.local} -> {upload.remote}\n", style="dim")
    for task in plan.tasks:
        text.append(f"\n{task_label(task.index)} {task.name}: ", style="bold")
        text.append(f"{plural(task.cores, 'core')}, {task.ram_gb} GiB RAM\n")
        text.append(f"  command: {shlex.join(task.command_line)}\n")
        for line in task_env_lines(task):
            text.append(f"  env {line}\n", style="dim")
    if plan.estimate:
        text.append(f"\n{plan.estimate.line()}\n")
    for line in [*plan.adjustments, *(f"warning: {w}" for w in plan.warnings)]:
        text.append(f"{line}\n", style="yellow")
    return text


async def launch_config(settings: Settings, config: RunConfig, reporter: Reporter) -> str:
    """Plan, record, stage, launch, watch and collect a run of a workload file's config (orchestrate.start_run)."""
    from srcnet_tui.core.runs.orchestrate import start_run

    return result_line(await start_run(settings, config, reporter=reporter))


# ---- storage footprint and clean ------------------------------------------------------------------


def ran_here(settings: Settings, run: RunRecord) -> bool:
    """Was the run launched on this backend (whose storage holds its products)?"""
    return not run.backend or run.backend == settings.backend


def stored_products(settings: Settings, run_id: str) -> tuple[RunRecord, list[Product]]:
    """The finished run (with its plan) and its products on its storage, each classified keep or
    remove (``clean``'s list); a run still going, or one on another backend, is refused in one line."""
    from srcnet_tui.core.runs.cleaning import run_products
    from srcnet_tui.core.runs.ledger import Ledger
    from srcnet_tui.core.runs.storage import open_storage

    with Ledger(settings.state_dir) as ledger:
        run = ledger.run(run_id)
    if not ran_here(settings, run):
        raise UsageError(f"run {run.id} ran on the {run.backend} backend; its storage is not this one's")
    return run, run_products(open_storage(settings), run)


def footprint(products: list[Product]) -> str:
    """``kept/removable`` sizes as ``du -h`` prints them."""
    from srcnet_tui.core.runs.products import REMOVE, totals

    summary = totals(products)
    return f"{summary['keep']['human']}/{summary[REMOVE]['human']}"


def footprints(settings: Settings, runs: list[RunRecord]) -> dict[str, str]:
    """The storage footprint of each finished run of this backend; ``?`` when its storage cannot list it."""
    shown = {}
    for run in runs:
        if run.finished and ran_here(settings, run):
            try:
                shown[run.id] = footprint(stored_products(settings, run.id)[1])
            except (SrcnetError, OSError):
                shown[run.id] = "?"
    return shown


def clean_question(run: RunRecord, products: list[Product]) -> str:
    """What clean's confirmation shows: the question and the totals first (they stay in view), then
    each product with its size, keep or remove, and why (when a rule said so)."""
    from srcnet_tui.core.runs.products import REMOVE, UNMATCHED, human_size, totals

    summary = totals(products)
    removable = summary[REMOVE]
    head = (
        f"Remove the {plural(removable['count'], 'file')} of run {run.id} marked remove ({removable['human']})?\n"
        "Every kept product is checked against its collected copy first.\n"
    )
    sums = [
        f"{summary[name]['human']:>6}  {name:<6}  {plural(summary[name]['count'], 'file')}" for name in ("keep", REMOVE, "total")
    ]
    lines = [
        f"{human_size(p.size):>6}  {p.action:<6}  {p.relative}" + (f"  ({p.reason})" if p.reason != UNMATCHED else "")
        for p in products[:MAX_PRODUCTS_ASKED]
    ]
    if len(products) > MAX_PRODUCTS_ASKED:
        lines.append(f"  … and {len(products) - MAX_PRODUCTS_ASKED} more")
    return head + "\n".join(sums) + "\n\n" + "\n".join(lines)


def clean_stored_run(settings: Settings, run: RunRecord, products: list[Product]) -> str:
    """Remove the products marked remove (cleaning.clean_run: nothing removed if a kept one is damaged);
    ``run`` as :func:`stored_products` read it."""
    from srcnet_tui.core.runs.cleaning import clean_run
    from srcnet_tui.core.runs.products import human_size
    from srcnet_tui.core.runs.storage import open_storage

    removed = clean_run(open_storage(settings), run, products)
    return f"Run {run.id}: removed {plural(len(removed), 'file')}, {human_size(sum(e['size'] for e in removed))}."
