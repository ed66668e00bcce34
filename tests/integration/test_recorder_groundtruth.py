"""Ground truth: CPU-hours from `record` and from psrecord logs match the OS's rusage within 5%.

The workload has known CPU use: two threads hashing (hashlib releases the GIL, so they can use
two cores) plus a forked child running a busy thread and a busy grandchild, all busy for the same
seconds, framed by short idle spells so that psrecord's blind spots (a process's CPU before its
first sample and after its last one) fall on idle time. The workload reports its own rusage (self + waited-for children) at the end.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from srcnet_tui.core import usage

PY = sys.executable
PSRECORD = str(Path(sys.executable).with_name("psrecord"))

WORKLOAD = r"""
import hashlib, json, os, resource, sys, threading, time

def burn(until):
    data = b"x" * (1 << 20)
    while time.time() < until:
        hashlib.sha256(data).digest()

def busy(threads, start, until):
    time.sleep(max(0.0, start - time.time()))
    workers = [threading.Thread(target=burn, args=(until,)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    time.sleep(0.4)

start = time.time() + 0.4
until = start + float(sys.argv[1])
for depth in range(2):  # a child, and under it a grandchild (forked before any thread starts)
    pid = os.fork()
    if pid:
        break
if pid == 0:
    busy(1, start, until)
    os._exit(0)
busy(2 if depth == 0 else 1, start, until)
os.waitpid(pid, 0)
if depth == 1:
    os._exit(0)
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}, open(sys.argv[2], "w"))
"""

BUSY_S = 2.5


@pytest.fixture
def workload(tmp_path) -> tuple[list[str], Path]:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    truth = tmp_path / "truth.json"
    return [PY, "-S", str(script), str(BUSY_S), str(truth)], truth  # -S: less start-up CPU to miss


def _cpu_hours(log: Path) -> dict:
    loaded = usage.load([log])
    assert loaded.problems == []
    return usage.aggregate(loaded.runs)["runs"][0]


def test_record_cpu_hours_match_rusage(workload, tmp_path):
    command, truth = workload
    log = tmp_path / "recorded.csv"

    done = subprocess.run(
        [PY, "-m", "srcnet_tui.core.cli", "record", "--log", str(log), "--interval", "0.2", "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    os_cpu_h = json.loads(truth.read_text())["cpu_s"] / 3600
    run = _cpu_hours(log)
    assert os_cpu_h > 0.2 * BUSY_S / 3600  # really busy (on a shared machine it gets less)
    assert run["cpu_hours"] == pytest.approx(os_cpu_h, rel=0.05)
    assert run["rusage_cpu_hours"] == pytest.approx(os_cpu_h, rel=0.05)
    assert run["exit_code"] == 0 and run["format"] == "recorder"


def test_psrecord_csv_cpu_hours_match_rusage(workload, tmp_path):
    command, truth = workload
    log = tmp_path / "psrecord.csv"

    subprocess.run(
        [
            PSRECORD,
            shlex.join(command),
            "--include-children",
            "--include-io",
            "--log-format",
            "csv",
            "--interval",
            "0.1",
            "--log",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    os_cpu_h = json.loads(truth.read_text())["cpu_s"] / 3600
    run = _cpu_hours(log)
    assert run["format"] == "psrecord-csv"
    assert run["cpu_hours"] == pytest.approx(os_cpu_h, rel=0.05)
