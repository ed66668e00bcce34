"""``retry RUN_ID``: only the failed tasks run again, as new attempts, and the run is brought up to date."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import wait_for
from runs_workspace import par_file, start_workspace

from srcnet_tui.core.runs.ledger import Ledger


def _failed_run(tmp_path, state_dir, test_env, local_server_factory, cli):
    """A parallel run of two tasks on the local server whose second task's parameter file is bad (exit 7)."""
    config, server = start_workspace(
        tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5", "oops")
    )
    first = cli("parallel", config, "--json", timeout=90)
    assert first.returncode == 1, first.stderr
    return config, server, json.loads(first.stdout)["id"]


def test_retry_reruns_only_the_failed_task_after_its_fix_and_keeps_both_attempts(
    tmp_path, state_dir, test_env, local_server_factory, cli
):
    config, server, run_id = _failed_run(tmp_path, state_dir, test_env, local_server_factory, cli)
    with Ledger(state_dir) as ledger:
        failed = ledger.task(run_id, 2)
    assert failed.state == "failed" and failed.cause == "failed"
    assert failed.message == "exit 7: ERROR: Failed to parse scfind.threshold"
    assert failed.advice == "SoFiA-2 rejected its input: fix the parameter the ERROR line names, then retry"

    nothing_changed = cli("retry", run_id, "--tasks", "task-001", timeout=30)
    assert nothing_changed.returncode == 2
    assert (
        "task-001" in nothing_changed.stderr and "completed; nothing that completed is launched again" in nothing_changed.stderr
    )
    with Ledger(state_dir) as ledger, ledger.driving(run_id):
        driven = cli("retry", run_id, timeout=30)
    assert driven.returncode == 2 and f"run {run_id} is being driven by process" in driven.stderr
    unknown = cli("retry", run_id, "--tasks", "task-009", timeout=30)
    assert unknown.returncode == 2 and "no task task-009" in unknown.stderr and "Traceback" not in unknown.stderr

    par_file(config.parent / "parameter_files" / "sofia_02.par", "3.5")  # the user fixes the parameter
    preview = cli("retry", run_id, "--ram", "2", "--dry-run", "--json", timeout=30)
    assert preview.returncode == 0, preview.stderr
    [planned] = json.loads(preview.stdout)["tasks"]
    assert (planned["task"], planned["attempt"], planned["ram_gb"], planned["cores"]) == ("task-002", 2, 2, 1)

    retried = cli("retry", run_id, "--ram", "2", "--json", timeout=90)
    assert retried.returncode == 0, retried.stderr
    result = json.loads(retried.stdout)
    assert result["counts"]["completed"] == 2

    with server.client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    assert sorted(names.values()) == [1, 1, 1] and f"{failed.spec.name}-a2" in names, names
    with Ledger(state_dir) as ledger:
        attempts = ledger.attempts(run_id)
        assert ledger.task(run_id, 2).spec.ram_gb == 2
    by_task = Counter(a.index for a in attempts)
    assert by_task == {1: 1, 2: 2}
    first, second = [a for a in attempts if a.index == 2]
    assert (first.state, first.wasted, first.ram_gb) == ("failed", True, 1)
    assert (second.state, second.wasted, second.ram_gb) == ("completed", False, 2)
    results = Path(result["local_dir"])
    assert first.profile_log == "sofia_profile_002.a1.txt" and (results / first.profile_log).is_file()
    assert first.usage and second.usage and second.usage["wall_s"] > 0

    manifest = json.loads((results / "run.json").read_text())
    attempts_in_manifest = {t["index"]: t["attempt"] for t in manifest["tasks"]}
    assert attempts_in_manifest == {1: 1, 2: 2}

    again = cli("retry", run_id, timeout=30)
    assert again.returncode == 2 and "nothing to retry" in again.stderr


def _retry_state(state_dir, run_id):
    with Ledger(state_dir) as ledger:
        return ledger.run(run_id), [t for t in ledger.tasks(run_id) if t.attempt == 2]


def mid_launch(run, retried):
    states = Counter(t.state for t in retried)
    return states["launched"] >= 1 and states["planned"] + states["launching"] >= 1


def test_sigkill_during_a_retry_then_resume_launches_nothing_twice(tmp_path, state_dir, test_env, local_server_factory, cli):
    config, server = start_workspace(
        tmp_path,
        state_dir,
        test_env,
        local_server_factory,
        small_tasks=True,
        server_options={"fault_latency_ms": 150, "cores": 8},
        thresholds=("3.5", "oops", "oops", "oops"),
    )
    first = cli("parallel", config, "--json", timeout=90)
    assert first.returncode == 1, first.stderr
    run_id = json.loads(first.stdout)["id"]
    for number in (2, 3, 4):
        par_file(config.parent / "parameter_files" / f"sofia_{number:02d}.par", "3.5")

    proc = subprocess.Popen(
        [sys.executable, "-m", "srcnet_tui.core.cli", "retry", run_id, "--max-launching", "1"],
        cwd=tmp_path, env=test_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def reached():
            if proc.poll() is not None:
                raise AssertionError(f"the retry ended before the kill point: {proc.stderr.read()}")
            return mid_launch(*_retry_state(state_dir, run_id))

        wait_for(reached, timeout_s=60, interval_s=0.01, message="the retry half launched")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        proc.stderr.close()

    resumed = cli("resume", run_id, "--json", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["counts"]["completed"] == 4
    with server.client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    assert all(count == 1 for count in names.values()), f"launched twice: {names}"
    assert len(names) == 7, "four first attempts and three retries"
    with Ledger(state_dir) as ledger:
        assert Counter(a.index for a in ledger.attempts(run_id)) == {1: 1, 2: 2, 3: 2, 4: 2}
