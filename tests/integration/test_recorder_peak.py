"""Peak CPU is true: the row taken at the command's exit is not inflated by the kernel's 10 ms ticks.

A one-core busy loop recorded at a short interval must never show more than one core, whenever
it happens to exit between two samples, and ``aggregate``'s peak is what the Usage chart draws.
"""

from __future__ import annotations

import json
import sys

import pytest

from srcnet_tui.core import usage
from srcnet_tui.core.task import recorder

PY = sys.executable
INTERVAL_S = 0.2
BUSY = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass\n"


def _record_busy(tmp_path, seconds: float):
    log = tmp_path / f"busy-{seconds:g}.csv"
    assert recorder.record([PY, "-S", "-c", BUSY, str(seconds)], log, interval=INTERVAL_S) == 0
    return usage.load([log]).runs[0]


@pytest.mark.parametrize("seconds", [0.45, 0.52, 0.61])  # exits at different moments between samples
def test_one_busy_core_never_peaks_above_one_core_and_the_chart_tops_at_the_peak(tmp_path, seconds):
    run = _record_busy(tmp_path, seconds)

    t = run.column("elapsed_time")
    peak = usage.aggregate([run])["runs"][0]["cpu_peak_pct"]
    chart = usage.timeseries([run])
    assert t[-1] - t[-2] >= INTERVAL_S / 2  # the exit row covers a span where ticks cannot dominate
    assert peak <= 115  # one core, give or take a tick over the span
    assert peak == pytest.approx(chart["cpu"].max(), abs=0.1)


def test_the_exit_row_keeps_the_cpu_time_and_the_memory_peak(tmp_path):
    log = tmp_path / "alloc.csv"
    workload = "import time\nblock = bytearray(64 << 20)\nend = time.monotonic() + 0.5\nwhile time.monotonic() < end: pass\n"

    assert recorder.record([PY, "-S", "-c", workload], log, interval=INTERVAL_S) == 0

    run = usage.load([log]).runs[0]
    row = usage.aggregate([run])["runs"][0]
    assert row["rss_peak_mib"] > 64
    assert row["cpu_hours"] == pytest.approx(row["rusage_cpu_hours"], rel=0.1, abs=0.02 / 3600)
    assert row["samples"] == json.loads(recorder.summary_path(log).read_text())["samples"]


@pytest.mark.parametrize("interval", ["0.001", "0.05", "7200"])
def test_an_interval_outside_the_allowed_range_is_refused_naming_it(cli, tmp_path, interval):
    done = cli("record", "--log", tmp_path / "x.csv", "--interval", interval, "--", "true")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: record: --interval must be between 0.1 and 3600 seconds, got {float(interval):g}"
    ]
    assert not (tmp_path / "x.csv").exists()
