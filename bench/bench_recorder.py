"""The recorder's own CPU use at a 1 s interval over a tree of 50 processes, against psrecord's.

Both profilers watch the same tree - a Python root with 7 Python children, each with 6 ``sleep``
grandchildren (50 processes; psrecord adds its ``/bin/sh``) - for ``--seconds`` each. The CPU
time of the profiler process itself (not its children) is read with psutil at the start and end of
a steady-state window that begins once the whole tree is up, so interpreter start-up is reported
separately. Target: the recorder at most 1% of one core, and no worse than psrecord.

Run: ``.venv/bin/python bench/bench_recorder.py [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PSRECORD = str(Path(sys.executable).with_name("psrecord"))
CHILDREN, GRANDCHILDREN = 7, 6
TREE = f"""
import subprocess, sys, time
hold = sys.argv[1]
child = "import subprocess, sys, time\\n" \\
        "s = [subprocess.Popen(['sleep', sys.argv[1]]) for _ in range({GRANDCHILDREN})]\\n" \\
        "time.sleep(float(sys.argv[1]))"
kids = [subprocess.Popen([sys.executable, "-S", "-c", child, hold]) for _ in range({CHILDREN})]
time.sleep(float(hold))
"""
TREE_SIZE = 1 + CHILDREN * (1 + GRANDCHILDREN)


def own_cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def measure(command: list[str], seconds: float, label: str) -> dict:
    started = time.monotonic()
    profiler = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    watched = psutil.Process(profiler.pid)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while len([p for p in tree if p.name() != "sh"]) < TREE_SIZE:
            if time.monotonic() > deadline:
                raise SystemExit(f"{label}: the tree never reached {TREE_SIZE} processes")
            time.sleep(0.1)
            tree = watched.children(recursive=True)
        cpu0, wall0 = own_cpu_s(watched), time.monotonic()
        time.sleep(seconds)
        cpu1, wall1 = own_cpu_s(watched), time.monotonic()
        tree = watched.children(recursive=True)
    finally:
        stop(profiler, tree)
    return {
        "label": label,
        "steady_pct": (cpu1 - cpu0) / (wall1 - wall0) * 100,
        "total_cpu_s": cpu1,
        "total_wall_s": wall1 - started,
        "processes": len(tree),
    }


def stop(profiler: subprocess.Popen, tree: list[psutil.Process]) -> None:
    """SIGTERM the profiler, then make sure nothing of the tree is left (psrecord orphans it)."""
    profiler.send_signal(signal.SIGTERM)
    try:
        profiler.wait(30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()
    for proc in tree:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(tree, timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="steady-state window per profiler")
    args = parser.parse_args()
    hold = str(int(args.seconds + 60))
    with tempfile.TemporaryDirectory(prefix="srcnet-bench-rec-") as tmp:
        script = Path(tmp) / "tree.py"
        script.write_text(TREE)
        workload = [sys.executable, "-S", str(script), hold]
        ours = measure(
            [
                sys.executable,
                "-m",
                "srcnet_tui.core.task.recorder",
                "--log",
                str(Path(tmp) / "rec.csv"),
                "--interval",
                "1",
                "--",
                *workload,
            ],
            args.seconds,
            "srcnet-tui recorder",
        )
        theirs = measure(
            [
                PSRECORD,
                shlex.join(workload),
                "--include-children",
                "--include-io",
                "--log-format",
                "csv",
                "--interval",
                "1",
                "--log",
                str(Path(tmp) / "psrecord.csv"),
            ],
            args.seconds,
            "psrecord 1.4",
        )
    print(f"interval 1 s, {args.seconds:g} s steady window, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print(f"{'':22s}{'steady % of a core':>20s}{'CPU s incl. start-up':>22s}{'processes':>11s}")
    for row in (ours, theirs):
        print(f"{row['label']:22s}{row['steady_pct']:20.3f}{row['total_cpu_s']:22.3f}{row['processes']:11d}")
    ratio = ours["steady_pct"] / theirs["steady_pct"] if theirs["steady_pct"] else float("nan")
    print(f"recorder / psrecord: {ratio:.2f} (target <= 1), recorder {ours['steady_pct']:.2f}% of one core (target <= 1%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
