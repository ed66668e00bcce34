"""``clean``'s preview of a 1,000-product run: list the run's folder, classify, total (target < 2 s).

Why: seed 004 previews removals with ``find ... | du -hsc``; ``clean`` must show the same figures
for a large run quickly enough to be used after every run. The run's folder is built on a local
/arc (LocalArc, as the local backend has it): ``--tasks`` task folders, each with SoFiA-2's products
(catalogues, logs, moment maps, filtered and noise cubes, masks) and a cubelets folder, 1,000
products in all by default. Measured, median of ``--repeat`` rounds:

* clean    - :func:`srcnet_tui.core.runs.products.list_products` (walk + classify) and the totals;
* baseline - ``du -hsc --apparent-size`` over every file of the run's folder (sizes only, no policy).

Run: ``.venv/bin/python bench/bench_clean.py [--tasks 20] [--cubelets 40] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from srcnet_tui.core.runs.products import list_products, totals
from srcnet_tui.core.runs.spec import RunPlan
from srcnet_tui.core.runs.storage import LocalArc

TASK_PRODUCTS = ("cat.txt", "cat.xml", "sofia.log", "mom0.fits", "mom1.fits", "filtered.fits", "noise.fits", "mask.fits")
TASK_FILES = ("sofia_profile.txt", "sofia_profile.txt.summary.json")


def build_run(arc: Path, tasks: int, cubelets: int) -> tuple[RunPlan, list[Path]]:
    """A run's folder with ``tasks`` task folders of SoFiA-2 products; returns its plan and its files."""
    run_dir = arc / "projects" / "bench" / "run1"
    files = [run_dir / "run.json", run_dir / "params" / "sofia.par"]
    for number in range(1, tasks + 1):
        task = run_dir / f"task-{number:03d}"
        prefix = f"run1_{number:03d}"
        files += [task / f"{prefix}_{name}" for name in TASK_PRODUCTS] + [task / name for name in TASK_FILES]
        files += [task / f"{prefix}_cubelets" / f"{prefix}_{source}_cube.fits" for source in range(cubelets)]
    for index, path in enumerate(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * (index % 7 * 512 + 100))
    plan = RunPlan("run1", "task", {"settings": {"finder": "sofia"}}, "img", 0, {}, "/arc/projects/bench/run1", "-", ())
    return plan, files


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--cubelets", type=int, default=40, help="cubelets per task")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-clean-") as folder:
        arc = Path(folder) / "arc"
        plan, files = build_run(arc, args.tasks, args.cubelets)
        storage = LocalArc(arc)
        products: list = []

        def preview() -> None:
            products[:] = list_products(storage, plan)
            totals(products)

        def du() -> None:
            subprocess.run(["du", "-hsc", "--apparent-size", *map(str, files)], capture_output=True, check=True)

        clean_s = statistics.median(timed(preview) for _ in range(args.repeat))
        du_s = statistics.median(timed(du) for _ in range(args.repeat))
        summary = totals(products)
        print(f"products: {len(products)} ({summary['keep']['count']} keep, {summary['remove']['count']} remove)")
        print(f"clean preview (walk + classify + totals): {clean_s * 1000:.1f} ms   target < 2000 ms")
        print(f"baseline du -hsc --apparent-size:          {du_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
