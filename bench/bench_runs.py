"""Benchmark a run's start: plan and launch a 500-task split run against serve-local.

Run: ``.venv/bin/python bench/bench_runs.py [--tasks-grid 25,20,1] [--max-launching 16]``.
Prints the time of each step the CLI takes before it starts watching: plan (FITS header, regions,
RAM per region, checks against the platform's context), record (every task in the ledger), stage
(upload the parameter file, create 500 output folders), launch (500 creates, each preceded by
its committed ``launching`` record), and the total.

The cube is a FITS header only (the plan never reads pixels). One session started first holds the
server's only core, so the 500 tasks stay Pending and cost no processes; serve-local is stopped
at the end with everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_skaha import TOKEN, pending_spec, serve_local  # noqa: E402
from srcnet_tui.core.runs.config import load_run_config  # noqa: E402
from srcnet_tui.core.runs.ledger import Ledger, new_run_id  # noqa: E402
from srcnet_tui.core.runs.orchestrate import Runner, record_plan  # noqa: E402
from srcnet_tui.core.runs.preflight import make_plan  # noqa: E402
from srcnet_tui.core.runs.staging import stage  # noqa: E402
from srcnet_tui.core.runs.storage import LocalArc  # noqa: E402
from srcnet_tui.core.settings import Settings  # noqa: E402
from srcnet_tui.core.skaha import SkahaClient  # noqa: E402

CUBE = "/arc/projects/bench/cube.fits"


def header_only_cube(path: Path, shape=(2500, 2000, 40)) -> None:
    """A FITS primary header describing a float32 cube; no pixel data (the planner reads headers)."""
    cards = [
        ("SIMPLE", "T"),
        ("BITPIX", "-32"),
        ("NAXIS", "3"),
        ("NAXIS1", str(shape[0])),
        ("NAXIS2", str(shape[1])),
        ("NAXIS3", str(shape[2])),
    ]
    text = "".join(f"{key:<8}= {value:>20}".ljust(80) for key, value in cards) + "END".ljust(80)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.ljust(2880).encode("ascii"))


def write_config(folder: Path, grid: str) -> Path:
    (folder / "sofia.par").write_text("scfind.threshold = 4\n")
    config = folder / "config.ini"
    config.write_text(
        "[bench]\n"
        "vos_dir = /arc/projects/bench/runs\n"
        f"image_file = {CUBE}\n"
        "parameter_file = sofia.par\n"
        f"split = {grid}\n"
        "overlap = 10\n"
        "cores = 1\n"
        "name = bench\n"
    )
    return config


async def bench(state: Path, url: str, grid: str, max_launching: int) -> dict[str, float]:
    header_only_cube(state / "arc" / CUBE.removeprefix("/arc/"))
    config = load_run_config(write_config(state, grid), section="bench", kind="parallel")
    storage = LocalArc(state / "arc")
    settings = Settings("local", url, TOKEN, None, state, "bench")
    async with SkahaClient(url, token=TOKEN, concurrency=64) as client:
        blocker = (await client.create(pending_spec("bench-blocker", 1)))[0]
        try:
            timings = await _timed_start(client, config, storage, settings, state, max_launching)
        finally:
            await client.delete(blocker)
    return timings


async def _timed_start(client, config, storage, settings, state: Path, max_launching: int) -> dict[str, float]:
    started = time.perf_counter()
    run_id = new_run_id()
    plan = make_plan(config, run_id, storage, context=await client.context())
    timings = {"plan": time.perf_counter() - started, "tasks": len(plan.tasks)}
    with Ledger(state) as ledger:
        mark = time.perf_counter()
        record_plan(ledger, plan, settings, state / "runs" / run_id)
        timings["record"] = time.perf_counter() - mark
        runner = await Runner.open(ledger, storage, client, run_id, launch_concurrency=max_launching)
        mark = time.perf_counter()
        await stage(runner.scope)
        timings["stage"] = time.perf_counter() - mark
        mark = time.perf_counter()
        await runner.launcher.launch_pending()
        timings["launch"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        timings["launched"] = ledger.run(run_id).counts.get("launched", 0)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks-grid", default="25,20,1", help="split grid NX,NY,NZ (default 25,20,1 = 500 tasks)")
    parser.add_argument("--max-launching", type=int, default=16)
    options = parser.parse_args()
    with serve_local() as (url, _server):
        state = Path(_state_of(_server))
        timings = asyncio.run(bench(state, url, options.tasks_grid, options.max_launching))
    print(
        f"split run of {timings['tasks']:.0f} tasks against serve-local "
        f"(max {options.max_launching} creates in flight; {timings['launched']:.0f} launched):"
    )
    for step in ("plan", "record", "stage", "launch", "total"):
        print(f"  {step:<7} {timings[step]:7.2f} s")
    print(f"  launch rate {timings['tasks'] / timings['launch']:.0f} tasks/s")


def _state_of(server_process) -> str:
    """The state folder serve-local was started with (its --state-dir argument)."""
    command = server_process.cmdline()
    return command[command.index("--state-dir") + 1]


if __name__ == "__main__":
    main()
