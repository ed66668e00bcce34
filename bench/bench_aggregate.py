"""Time to aggregate 2,000 profile logs of 3,600 rows, against the time of merely reading their bytes.

The logs are psrecord CSV with I/O columns, written the way psrecord writes them (full-precision
floats), into a temporary folder. Three timings on the same files, best of ``--repeat`` runs, warm
page cache:

* bytes     - merely reading every file (the baseline: target usage <= 3x this);
* tokenize  - ``pyarrow.csv`` splitting every file into fields, converting none (the parser's floor);
* seed      - aggregate_logs.py's approach: ``pd.read_csv`` per file, then mean CPU and max time;
* usage     - ``srcnet_tui.core.usage.load`` + ``srcnet_tui.core.usage.aggregate`` (one ``pyarrow.csv`` call per file, on threads).

Run: ``.venv/bin/python bench/bench_aggregate.py [--files 2000] [--rows 3600] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from srcnet_tui.core import usage

HEADER = "elapsed_time,nproc,cpu,mem_real,mem_virtual,read_count,write_count,read_bytes,write_bytes\n"
DISTINCT = 50  # distinct log bodies, written round-robin (parsing cost does not depend on values)


def psrecord_like_log(rows: int, rng: np.random.Generator) -> str:
    t = np.arange(rows) * 1.0 + rng.random(rows) * 0.01
    cpu = np.round(rng.random(rows) * 400, 1)
    cpu[0] = 0.0
    mem = rng.random(rows) * 1000 + 100
    reads = np.cumsum(rng.integers(0, 10, rows))
    written = np.cumsum(rng.integers(0, 1 << 20, rows))
    lines = [
        f"{a!r},3,{c!r},{m!r},{m + 500.0!r},{r},0,0,{w}\n"
        for a, c, m, r, w in zip(t.tolist(), cpu.tolist(), mem.tolist(), reads.tolist(), written.tolist())
    ]
    return HEADER + "".join(lines)


def write_logs(folder: Path, files: int, rows: int) -> int:
    rng = np.random.default_rng(2026)
    bodies = [psrecord_like_log(rows, rng) for _ in range(min(files, DISTINCT))]
    total = 0
    for i in range(files):
        body = bodies[i % len(bodies)]
        (folder / f"task_{i:05d}.csv").write_text(body)
        total += len(body)
    return total


def read_bytes(folder: Path) -> int:
    return sum(len(Path(p).read_bytes()) for p in sorted(glob.glob(str(folder / "*.csv"))))


def tokenize_only(folder: Path) -> int:
    """What no parser can avoid: finding every field of every row (the column converted is never read)."""
    names = HEADER.strip().split(",")
    read = pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False, block_size=4 << 20)
    convert = pa_csv.ConvertOptions(include_columns=[names[1]], column_types={names[1]: pa.float64()})
    paths = sorted(glob.glob(str(folder / "*.csv")))
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        tables = pool.map(
            lambda p: pa_csv.read_csv(pa.py_buffer(Path(p).read_bytes()), read_options=read, convert_options=convert), paths
        )
        return sum(table.num_rows for table in tables)


def seed_approach(folder: Path) -> float:
    """aggregate_logs.py (reference/workloads.md §2): one pd.read_csv per file, mean and max."""
    ncpu = 8
    total = 0.0
    for path in sorted(glob.glob(str(folder / "*.csv"))):
        df = pd.read_csv(path)
        avg_cpu = df["cpu"].mean()
        runtime = df["elapsed_time"].max()
        total += avg_cpu * ncpu * runtime / 3600
    return total


def usage_approach(folder: Path) -> float:
    loaded = usage.load([folder], columns=usage.AGGREGATE_COLUMNS)
    assert not loaded.problems, loaded.problems[:3]
    return usage.aggregate(loaded.runs)["total"]["cpu_hours"]


def best_of(repeat: int, fn, *args):
    """Best wall time, best CPU time of this process (all threads), and the result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=3600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="srcnet-bench-agg-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        size = write_logs(folder, args.files, args.rows)
        print(
            f"wrote {args.files} logs x {args.rows} rows ({size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs; best of {args.repeat}"
        )
        t_bytes, c_bytes, _ = best_of(args.repeat, read_bytes, folder)
        t_tokens, c_tokens, _ = best_of(args.repeat, tokenize_only, folder)
        t_seed, c_seed, seed_cpu_h = best_of(args.repeat, seed_approach, folder)
        t_usage, c_usage, cpu_h = best_of(args.repeat, usage_approach, folder)
    print(f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows the wall times)")
    print(f"{'':22s}{'wall s':>8s}{'CPU s':>8s}")
    print(f"{'read bytes only':22s}{t_bytes:8.2f}{c_bytes:8.2f}")
    print(f"{'pyarrow tokenize only':22s}{t_tokens:8.2f}{c_tokens:8.2f}   {t_tokens / t_bytes:.1f}x bytes")
    print(f"{'seed read_csv + mean':22s}{t_seed:8.2f}{c_seed:8.2f}   'CPU-hours' {seed_cpu_h:,.0f} (wrong formula)")
    print(f"{'srcnet-tui usage':22s}{t_usage:8.2f}{c_usage:8.2f}   CPU-hours {cpu_h:,.2f}")
    print(
        f"usage takes {t_usage / t_bytes:.1f}x the time of reading the bytes (target <= 3x); "
        f"speed-up vs seed: {t_seed / t_usage:.2f}x wall, {c_seed / c_usage:.2f}x CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
