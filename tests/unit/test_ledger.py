"""The run ledger: states, counts, names per attempt, durability across a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.ledger import Ledger, ledger_path, new_run_id


def _tasks(n):
    return [(i, f"sofia-r1-{i:03d}", {"cores": 2}) for i in range(n)]


def test_task_lifecycle_and_counts(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.create_run("r1", "parallel", _tasks(3), config="c.ini", section="sofia-parallel", backend="local")
        assert ledger.mark_launching("r1", 0).state == "launching"
        ledger.mark_launched("r1", 0, "abc123")
        ledger.mark_finished("r1", 0, "no-sources", exit_code=8)
        ledger.mark_launching("r1", 1)
        run = ledger.run("r1")
        assert run.tasks == 3 and run.done == 1
        assert run.to_json()["counts"] == {
            "planned": 1,
            "launching": 1,
            "launched": 0,
            "completed": 0,
            "no-sources": 1,
            "failed": 0,
            "lost": 0,
        }
        first = ledger.task("r1", 0)
        assert (first.session_id, first.exit_code, first.spec) == ("abc123", 8, {"cores": 2})
        with pytest.raises(UsageError):
            ledger.mark_finished("r1", 1, "running")
        with pytest.raises(NotFound):
            ledger.run("nope")


def test_relaunch_gets_a_new_deterministic_name(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.create_run("r1", "task", _tasks(1))
        ledger.mark_launching("r1", 0)
        ledger.mark_launched("r1", 0, "s1")
        ledger.mark_finished("r1", 0, "lost")
        ledger.mark_planned("r1", 0, next_attempt=True)
        ledger.mark_planned("r1", 0, next_attempt=True)
        task = ledger.task("r1", 0)
        assert (task.name, task.attempt, task.state, task.session_id) == ("sofia-r1-000-a3", 3, "planned", None)


def test_runs_newest_first_and_ids_sort(tmp_path):
    with Ledger(tmp_path) as ledger:
        ids = [new_run_id(now=1_700_000_000 + i) for i in range(3)]
        for run_id in ids:
            ledger.create_run(run_id, "task", _tasks(1))
        assert [r.id for r in ledger.runs()] == [r.id for r in sorted(ledger.runs(), key=lambda r: r.created, reverse=True)]
        assert ids[0].startswith("20231114-") and len(ledger.runs(limit=2)) == 2


def _ledger_holder(tmp_path, statements: str) -> subprocess.Popen:
    """Another process that opens the ledger and runs ``statements``; their ``hold()`` says so and sleeps."""
    script = (
        "import sys, time\n"
        "from srcnet_tui.core.runs.ledger import Ledger\n"
        "def hold():\n"
        "    print('holding', flush=True)\n"
        "    time.sleep(60)\n"
        "l = Ledger(sys.argv[1])\n"
    ) + statements
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "holding":
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError("the ledger holder process failed before holding")
    return proc


def test_committed_intent_survives_sigkill(tmp_path):
    proc = _ledger_holder(tmp_path, "l.create_run('r1', 'task', [(0, 'n-0', {})])\nl.mark_launching('r1', 0)\nhold()\n")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert ledger_path(tmp_path).exists()
    with Ledger(tmp_path) as ledger:
        assert ledger.task("r1", 0).state == "launching"


def test_a_run_has_one_driver_at_a_time_and_a_dead_one_releases_it(tmp_path):
    proc = _ledger_holder(tmp_path, "with l.driving('r1'):\n    hold()\n")
    try:
        with Ledger(tmp_path) as ledger:
            with pytest.raises(UsageError, match=f"run r1 is being driven by process {proc.pid}"):
                with ledger.driving("r1"):
                    pass
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            with ledger.driving("r1"):
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
