"""The workload-file commands: ``submit FILE`` (a Kubernetes Job or CronJob, or an HTCondor submit
description) and ``schedule FILE`` (the crontab line that submits a CronJob at its schedule).

A submitted file becomes a run like any other — ledger, staging, recorder, collection, usage,
``run.json``, ``resume`` — planned by its workload kind (:mod:`srcnet_tui.core.runs.kinds`).
``--dry-run`` prints the tasks with their command lines, env, cores, RAM and size estimate and
creates nothing. A CronJob is run once now; with ``concurrencyPolicy: Forbid`` a run of the same
CronJob still active in the ledger means one line, exit 0 and nothing launched. An HTCondor job's
``output``, ``error`` and ``log`` files come back next to the submit file, as ``condor_submit``'s do.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from srcnet_tui.core.cli.output import notice, print_json, stdout
from srcnet_tui.core.cli.runs import CliReporter, add_wait_options, finish_run
from srcnet_tui.core.cli.sessions import settings_from_args
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import RunConfig
from srcnet_tui.core.runs.kinds import default_vos_dir
from srcnet_tui.core.runs.kinds.condor import read_submit_file
from srcnet_tui.core.runs.kinds.k8s import read_manifest
from srcnet_tui.core.runs.ledger import Ledger, ledger_path
from srcnet_tui.core.runs.orchestrate import refresh_runs, start_run
from srcnet_tui.core.runs.plan import Plan, task_label
from srcnet_tui.core.runs.preflight import dry_run_plan
from srcnet_tui.core.settings import Settings

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Workload:
    """A workload file read into the run it asks for."""

    config: RunConfig
    schedule: str | None = None  # a CronJob's
    forbid_concurrent: bool = False


def _mounts(items: list[str]) -> dict[str, str]:
    mounts = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise UsageError(f"--mount {item}: expected NAME=/arc/PATH")
        mounts[name] = target
    return mounts


def read_workload(args: argparse.Namespace) -> Workload:
    """The file named on the command line, as a Kubernetes manifest (.yaml) or an HTCondor submit file."""
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    vos_dir = args.vos_dir or default_vos_dir()
    if path.suffix.lower() in YAML_SUFFIXES:
        manifest = read_manifest(path, vos_dir, _mounts(args.mount))
        return Workload(manifest.config, manifest.schedule, manifest.forbid_concurrent)
    if args.mount:
        raise UsageError(f"--mount: {path.name} is an HTCondor submit file, which mounts no volumes")
    return Workload(read_submit_file(path, vos_dir, args.image).config)


def print_tasks(plan: Plan) -> None:
    """The planned tasks as ``submit --dry-run`` shows them: resources, command line and env of each."""
    stdout.print(
        f"{plan.config.path.name}: {plan.run_kind} run of {len(plan.tasks)} task(s), image {plan.image}", highlight=False
    )
    stdout.print(f"outputs: {plan.output_dir}", highlight=False)
    for upload in plan.uploads:
        stdout.print(f"upload: {upload.local} -> {upload.remote}", highlight=False)
    for task in plan.tasks:
        stdout.print(f"{task_label(task.index)} {task.name}: {task.cores} cores, {task.ram_gb} GiB RAM", highlight=False)
        stdout.print(f"  command: {shlex.join(task.command_line)}", markup=False, highlight=False)
        for name, value in task.env.items():
            stdout.print(f"  env {name}={value}", markup=False, highlight=False)
    if plan.estimate:
        stdout.print(plan.estimate.line(), highlight=False)
    for line in [*plan.adjustments, *(f"warning: {w}" for w in plan.warnings)]:
        notice(line)


def active_run(settings: Settings, config: RunConfig) -> str | None:
    """A run of this same workload file that still has tasks to finish (the ledger brought up to date first)."""
    if not ledger_path(settings.state_dir).exists():
        return None
    with Ledger(settings.state_dir) as ledger:
        same = [r.id for r in ledger.runs() if r.config == str(config.path) and r.section == config.section and not r.finished]
    if not same:
        return None
    active = [run for run in asyncio.run(refresh_runs(settings, same, progress=notice)) if run.done < run.tasks]
    return active[0].id if active else None


def cmd_submit(args: argparse.Namespace) -> int:
    workload = read_workload(args)
    settings = settings_from_args(args)
    if args.dry_run:
        plan = asyncio.run(dry_run_plan(settings, workload.config))
        print_json(plan.to_dict()) if args.json else print_tasks(plan)
        return 0
    if workload.forbid_concurrent:
        running = active_run(settings, workload.config)
        if running:
            notice(
                f"{workload.config.path.name}: run {running} of this CronJob is still active (concurrencyPolicy: Forbid); nothing launched"
            )
            return 0
    reporter = CliReporter()
    run = start_run(settings, workload.config, wait=not args.no_wait, reporter=reporter, launch_concurrency=args.max_launching)
    return finish_run(args, reporter, run)


def crontab_line(workload: Workload, args: argparse.Namespace, settings: Settings) -> str:
    """The line that submits the CronJob at its schedule (quoted: cron hands it to a shell)."""
    if workload.schedule is None:
        raise UsageError(f"{workload.config.path.name}: not a CronJob (schedule needs a manifest with spec.schedule)")
    script = Path(sys.executable).with_name("srcnet-tui")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "srcnet_tui.tui.launcher"]
    command += ["--headless", "--backend", settings.backend, "--state-dir", str(settings.state_dir)]
    command += ["submit", str(workload.config.path), "--vos-dir", workload.config.vos_dir]
    for mount in args.mount:
        command += ["--mount", mount]
    log = settings.state_dir / "cron" / f"{workload.config.name}.log"
    return f"{workload.schedule} {shlex.join(command)} >> {shlex.quote(str(log))} 2>&1"


def cmd_schedule(args: argparse.Namespace) -> int:
    workload = read_workload(args)
    settings = settings_from_args(args)
    line = crontab_line(workload, args, settings)
    (settings.state_dir / "cron").mkdir(parents=True, exist_ok=True)
    stdout.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0


def _file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a Kubernetes Job/CronJob manifest (.yaml) or an HTCondor submit file")
    parser.add_argument("--vos-dir", help="folder under /arc/ the run writes to (default /arc/home/$USER/srcnet-runs)")
    parser.add_argument(
        "--mount", action="append", default=[], metavar="NAME=/arc/PATH", help="map a manifest's volume to storage"
    )
    parser.add_argument("--image", help="container image for an HTCondor submit file that names none")


def register(subparsers) -> None:
    parser = subparsers.add_parser("submit", help="run a Kubernetes Job/CronJob or an HTCondor submit file")
    _file_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the tasks; stage and launch nothing")
    add_wait_options(parser)
    parser.set_defaults(handler=cmd_submit)
    parser = subparsers.add_parser("schedule", help="print the crontab line that submits a CronJob at its schedule")
    _file_options(parser)
    parser.set_defaults(handler=cmd_schedule)
