"""Benchmark planning and recording a 10,000-argument command run (``kind = command``).

Run: ``.venv/bin/python bench/bench_plan_command.py [--arguments 10000]``. Prints the time to read
the config (an ``arguments_file`` of N lines), plan N tasks (templates expanded in every command
line, env and file name) and record them in a fresh ledger, beside a baseline measured in the same
run: serialising the same N task records to JSON (the least any recording of them costs). Nothing
is launched; no server is needed. Target: plan + record < 2 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcnet_tui.core.runs.config import load_run_config  # noqa: E402
from srcnet_tui.core.runs.ledger import Ledger, new_run_id  # noqa: E402
from srcnet_tui.core.runs.orchestrate import record_plan  # noqa: E402
from srcnet_tui.core.runs.plan import plan_run  # noqa: E402
from srcnet_tui.core.settings import Settings  # noqa: E402

CONFIG = """[bench]
kind = command
vos_dir = /arc/projects/bench/runs
image = images.canfar.net/srcnet/tool:1
command = python3 catalogue.py {arg} --out {arg}.cat --run {run_id}
arguments_file = ids.txt
products = {arg}.cat
env = OBS_ID=obs-{arg}-{timestamp}, TASK={task}
cores = 1
ram = 2
"""


def bench(folder: Path, count: int) -> dict[str, float]:
    (folder / "ids.txt").write_text("".join(f"{1056215 + n}p\n" for n in range(count)))
    (folder / "config.ini").write_text(CONFIG)
    started = time.perf_counter()
    config = load_run_config(folder / "config.ini", "bench", "parallel")
    run_id = new_run_id()
    plan = plan_run(config, run_id)
    timings = {"plan": time.perf_counter() - started}
    mark = time.perf_counter()
    with Ledger(folder / "state") as ledger:
        record_plan(ledger, plan, Settings("local", "http://127.0.0.1:1/skaha/v1", None, None, folder / "state", "bench"), folder)
        recorded = ledger.run(run_id).tasks
    timings["record"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    mark = time.perf_counter()
    encoded = [json.dumps(task.to_dict()) for task in plan.tasks]
    timings["baseline"] = time.perf_counter() - mark
    timings["tasks"], timings["bytes"] = recorded, sum(map(len, encoded))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arguments", type=int, default=10_000, help="tasks to plan and record (default 10,000)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        timings = bench(Path(scratch), options.arguments)
    print(f"command run of {timings['tasks']:.0f} tasks ({timings['bytes'] / 1e6:.1f} MB of task records):")
    for step in ("plan", "record", "total"):
        print(f"  {step:<9} {timings[step]:6.2f} s")
    print(
        f"  baseline  {timings['baseline']:6.2f} s   (json.dumps of the same task records; total = {timings['total'] / timings['baseline']:.1f} x)"
    )
    print(f"  target    {'met' if timings['total'] < 2 else 'NOT met'} (< 2 s)")


if __name__ == "__main__":
    main()
