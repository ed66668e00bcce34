"""A command workload (examples/command) end to end on a real local server, and ``srcnet-task exec`` itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT, wait_for

from srcnet_tui.core.runs.ledger import Ledger, ledger_path

EXAMPLE = ROOT / "examples" / "command"
LIMITS = (20000, 40000, 60000, 80000)
PRIME_COUNTS = {20000: 2262, 40000: 4203, 60000: 6057, 80000: 7837}


@pytest.fixture
def example(tmp_path, local_server_factory):
    folder = shutil.copytree(EXAMPLE, tmp_path / "command")
    local_server_factory(cores=2)
    return folder / "primes.ini"


def test_four_arguments_run_as_four_tasks_whose_products_logs_and_usage_come_back(example, cli, state_dir):
    proc = cli("parallel", example, "--section", "primes", "--json", timeout=90)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    results = state_dir / "runs" / result["id"]
    for number, limit in enumerate(LIMITS, start=1):
        assert len((results / f"primes-{limit}.txt").read_text().split()) == PRIME_COUNTS[limit]
        assert (results / f"task-{number:03d}.out").read_text().strip() == f"{PRIME_COUNTS[limit]} primes below {limit}"
        assert (results / f"task-{number:03d}.err").exists()
    assert [row["run"] for row in result["usage"]["runs"]] == ["task-001", "task-002", "task-003", "task-004"]
    manifest = json.loads((results / "run.json").read_text())
    assert manifest["kind"] == "command"
    assert [t["args"][-3] for t in manifest["tasks"]] == [str(limit) for limit in LIMITS]
    assert not list(results.glob("primes.py"))  # the input linked into each task folder is not a product


def _launched_some(state_dir) -> bool:
    if not ledger_path(state_dir).exists():
        return False
    with Ledger(state_dir) as ledger:
        runs = ledger.runs()
        states = Counter(t.state for t in ledger.tasks(runs[0].id)) if runs else Counter()
    return states["launched"] >= 1 and states["planned"] >= 1


def test_kill_9_mid_launch_then_resume_launches_nothing_twice_and_reuses_the_planned_values(
    tmp_path, local_server_factory, test_env, cli, state_dir
):
    example = shutil.copytree(EXAMPLE, tmp_path / "command") / "primes.ini"
    server = local_server_factory(cores=2, fault_latency_ms=150)
    command = [
        sys.executable,
        "-m",
        "srcnet_tui.core.cli",
        "parallel",
        str(example),
        "--section",
        "primes",
        "--max-launching",
        "1",
    ]
    proc = subprocess.Popen(command, cwd=tmp_path, env=test_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _launched_some(state_dir), timeout_s=60, interval_s=0.01, message="a launch half done")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    with Ledger(state_dir) as ledger:
        (run,) = ledger.runs()
        stamps = [t.spec.env["RUN_STAMP"] for t in ledger.tasks(run.id)]
    resumed = cli("resume", run.id, "--json", timeout=90)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["counts"]["completed"] == len(LIMITS)
    with Ledger(state_dir) as ledger:
        tasks = ledger.tasks(run.id)
    assert [t.spec.env["RUN_STAMP"] for t in tasks] == stamps and len(set(stamps)) == 1  # expanded once, when planned
    with server.client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    assert set(names) == {t.name for t in tasks} and set(names.values()) == {1}  # nothing launched twice
    results = state_dir / "runs" / run.id
    assert all((results / f"primes-{limit}.txt").is_file() for limit in LIMITS)


def test_exec_runs_a_script_by_its_interpreter_in_the_task_folder_with_its_own_output_files(tmp_path):
    script = tmp_path / "inputs" / "job.sh"
    script.parent.mkdir()
    script.write_text('#!/bin/sh\necho "out $1"; echo "err $1" >&2; test -f job.sh && echo linked; exit 3\n')
    script.chmod(0o644)  # as staged: no executable bit
    out = tmp_path / "task-001"
    command = [sys.executable, "-m", "srcnet_tui.core.task.runner", "exec", "--out", str(out), "--log", "p.txt"]
    command += ["--stdout", "o.txt", "--stderr", "e.txt", "--interval", "0.1", "--input", str(script), "--", "./job.sh", "x1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert (out / "o.txt").read_text() == "out x1\nlinked\n"  # run in its folder, with its input beside it
    assert (out / "e.txt").read_text() == "err x1\n"
    assert not (out / "job.sh").exists()  # the link is gone once the program ends
    summary = json.loads((out / "p.txt.summary.json").read_text())
    assert summary["task_exit_code"] == 3 and summary["finder_exit_code"] is None
