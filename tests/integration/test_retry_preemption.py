"""A task the platform preempts (Running -> Pending -> Running, the same session) counts once, with two attempts."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import wait_for
from runs_workspace import start_workspace

from srcnet_tui.core.runs.ledger import Ledger


def _running_session(server) -> str | None:
    with server.client() as http:
        running = [s["id"] for s in http.get("session").json() if s["status"] == "Running"]
    return running[0] if running else None


def test_a_preempted_task_is_restarted_by_the_platform_and_counted_once(tmp_path, state_dir, test_env, local_server_factory):
    config, server = start_workspace(
        tmp_path,
        state_dir,
        test_env,
        local_server_factory,
        small_tasks=True,
        server_options={"fault_preempt": True},
        thresholds=("3.5",),
        sleep_s=2,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcnet_tui.core.cli", "parallel", str(config), "--json"],
        cwd=tmp_path, env=test_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        session_id = wait_for(lambda: _running_session(server), timeout_s=60, interval_s=0.05, message="the session to run")
        with server.client() as http:
            http.post(f"session/{session_id}", data={"action": "preempt"}).raise_for_status()
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["counts"]["completed"] == 1 and result["tasks"] == 1
    assert "preempted by the platform" in stderr and "attempt 2 counts as the same task" in stderr
    with Ledger(state_dir) as ledger:
        first, second = ledger.attempts(result["id"])
        assert ledger.task(result["id"], 1).attempt == 2
    assert (first.state, first.cause, first.wasted, first.session_id) == ("preempted", "preempted", True, session_id)
    assert first.advice == "the platform preempted it; nothing to change"
    assert (second.state, second.wasted, second.session_id) == ("completed", False, session_id)
    assert second.started_at is not None and (first.started_at or 0) <= second.started_at
