"""The run ledger: states, counts, names per attempt, typed specs, durability across a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.ledger import Ledger, ledger_path, new_run_id
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec
from srcnet_tui.core.runs.split import Region
from srcnet_tui.core.skaha import LaunchSpec


def _spec(index: int, name: str) -> TaskSpec:
    outputs = TaskOutputs(f"/arc/r1/task-{index:03d}", f"r1_{index:03d}", "profile.txt", "sofia.log", ("r1_cat.xml",))
    return TaskSpec(index, name, None, "/arc/r1/params/a.par", 2, 8, ["--par", "/arc/r1/params/a.par"], outputs, "img:1")


def _tasks(n):
    return [_spec(i, f"sofia-r1-{i:03d}") for i in range(n)]


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
        assert (first.session_id, first.exit_code, first.spec) == ("abc123", 8, _spec(0, "sofia-r1-000"))
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
    spec = json.dumps(_spec(0, "n-0").to_dict())
    statements = (
        "import json\nfrom srcnet_tui.core.runs.spec import TaskSpec\n"
        f"l.create_run('r1', 'task', [TaskSpec.from_dict(json.loads({spec!r}))])\nl.mark_launching('r1', 0)\nhold()\n"
    )
    proc = _ledger_holder(tmp_path, statements)
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


OLD_LAYOUT_PLAN = {
    "run_id": "r0", "kind": "split",
    "config": {"file": "c.ini", "section": "s", "kind": "parallel", "settings": {"max_parallel": 3}, "defaults": []},
    "image": "img:1", "gpus": 0, "env": {"A": "1"}, "output_dir": "/arc/out/r0", "input_data": "/arc/in/cube.fits",
    "cube": {"nx": 10, "ny": 8, "nz": 4, "bitpix": -32, "bytes": 1280}, "grid": [2, 1, 1], "overlap": [2, 1],
    "uploads": [{"local": "/tmp/a.par", "remote": "/arc/out/r0/params/a.par"}],
    "tasks": [{"index": 1, "name": "old-plan-task"}], "warnings": [],
}  # fmt: skip
OLD_LAYOUT_SPEC = {
    "index": 1, "name": "s-r0-001", "region": "0,5,0,7,0,3", "par_file": "/arc/out/r0/params/a.par", "cores": 2,
    "ram_gb": 8, "cmd": "srcnet-task", "args": ["--par", "/arc/out/r0/params/a.par"],
    "outputs": {"directory": "/arc/out/r0/task-001", "filename": "r0_001", "profile_log": "p.txt",
                "summary": "p.txt.summary.json", "finder_log": "r0_001_sofia.log", "catalogues": ["r0_001_cat.xml"]},
    "image": "img:1", "env": {"A": "1"}, "gpus": None,
}  # fmt: skip


def test_a_ledger_written_by_the_previous_version_loads_typed(tmp_path):
    """Rows as the dict-keeping version wrote them: the whole dry-run plan in ``details``, max_parallel
    only inside the config, ``gpus`` None for none."""
    with Ledger(tmp_path):
        pass  # the schema, as any version creates it
    with sqlite3.connect(ledger_path(tmp_path)) as db:
        db.execute(
            "INSERT INTO runs (id, created, kind, phase, remote_dir, local_dir, details) VALUES (?, 1.0, 'split', 'watching', ?, ?, ?)",
            ("r0", "/arc/out/r0", str(tmp_path / "results"), json.dumps({"plan": OLD_LAYOUT_PLAN})),
        )
        db.execute(
            "INSERT INTO tasks (run_id, idx, name, state, spec) VALUES ('r0', 1, 's-r0-001-a2', 'planned', ?)",
            (json.dumps(OLD_LAYOUT_SPEC),),
        )
    with Ledger(tmp_path) as ledger:
        plan, [task] = ledger.run("r0").plan, ledger.tasks("r0")
    assert plan is not None and plan.max_parallel == 3 and plan.cube is not None and plan.cube.shape == (10, 8, 4)
    assert plan.uploads[0].local == Path("/tmp/a.par") and plan.overlap == (2, 1) and plan.grid == (2, 1, 1)
    assert task.spec.region == Region(0, 5, 0, 7, 0, 3) and task.spec.outputs.catalogues == ("r0_001_cat.xml",)
    assert task.launch_spec() == LaunchSpec(
        name="s-r0-001-a2", image="img:1", cmd="srcnet-task", args=["--par", "/arc/out/r0/params/a.par"],
        env={"A": "1"}, cores=2, ram=8, gpus=None,
    )  # fmt: skip
    assert task.spec.to_dict() == OLD_LAYOUT_SPEC, "written back, a spec keeps the layout it was read from"


def test_every_attempt_is_a_record_of_its_own(tmp_path):
    """A failed attempt, then a retry with more RAM that completes: two attempts, the first wasted."""
    from dataclasses import replace

    from srcnet_tui.core.runs.ledger import AttemptFiles

    with Ledger(tmp_path) as ledger:
        ledger.create_run("r1", "parallel", _tasks(2), backend="local", site="local")
        for index, session in ((0, "s0"), (1, "s1")):
            ledger.mark_launching("r1", index)
            ledger.mark_launched("r1", index, session)
        ledger.mark_finished("r1", 0, "completed", 0)
        ledger.mark_finished(
            "r1", 1, "failed", 137, "out of memory: peak 8.4 GB of 8 GB requested", cause="oom", advice="retry with --ram 12"
        )
        failed = ledger.task("r1", 1)
        assert (failed.cause, failed.advice) == ("oom", "retry with --ram 12")

        with pytest.raises(UsageError, match="task 0 is completed"):
            ledger.plan_retry("r1", [ledger.task("r1", 0).spec], {})
        kept = AttemptFiles("profile.a1.txt", "profile.a1.txt.summary.json", {"wall_s": 3.0})
        ledger.plan_retry("r1", [replace(failed.spec, ram_gb=12)], {1: kept})
        retried = ledger.task("r1", 1)
        assert (retried.state, retried.attempt, retried.name, retried.spec.ram_gb, retried.cause) == (
            "planned", 2, "sofia-r1-001-a2", 12, None,
        )  # fmt: skip
        assert ledger.run("r1").phase == "planned" and ledger.run("r1").finished is None
        ledger.mark_launching("r1", 1)
        ledger.mark_launched("r1", 1, "s2")
        ledger.mark_finished("r1", 1, "completed", 0)

        attempts = ledger.attempts("r1")
        assert [(a.index, a.attempt, a.session_id, a.state, a.ram_gb, a.wasted) for a in attempts] == [
            (0, 1, "s0", "completed", 8, False),
            (1, 1, "s1", "failed", 8, True),
            (1, 2, "s2", "completed", 12, False),
        ]
        first = attempts[1]
        assert (first.cause, first.profile_log, first.usage) == ("oom", "profile.a1.txt", {"wall_s": 3.0})
        assert first.to_json()["message"] == "out of memory: peak 8.4 GB of 8 GB requested"
        assert ledger.run("r1").counts == {"completed": 2} and ledger.run("r1").to_json()["attempts"] == 3


def test_a_session_the_platform_restarted_is_one_task_with_two_attempts(tmp_path):
    """Kueue preemption: the same session runs, goes back to Pending, runs again and completes."""
    from srcnet_tui.core.runs.ledger import AttemptFiles

    with Ledger(tmp_path) as ledger:
        ledger.create_run("r1", "task", _tasks(1))
        ledger.mark_launching("r1", 0)
        ledger.mark_launched("r1", 0, "s0")
        ledger.mark_started("r1", 0, 1000.0)
        wasted = AttemptFiles("profile.a1.txt", None, {"wall_s": 60.0, "alloc_core_hours": 0.0333})
        restarted = ledger.mark_preempted("r1", 0, "preempted by the platform", "nothing to change", files=wasted)
        assert (restarted.attempt, restarted.session_id, restarted.state, restarted.started_at) == (2, "s0", "launched", None)
        assert restarted.name == "sofia-r1-000", "the platform restarts the same session: its name stays"
        ledger.mark_started("r1", 0, 1100.0)
        ledger.mark_finished("r1", 0, "completed", 0)

        first, second = ledger.attempts("r1", 0)
        assert (first.state, first.cause, first.wasted, first.usage, first.started_at) == (
            "preempted", "preempted", True, {"wall_s": 60.0, "alloc_core_hours": 0.0333}, 1000.0,
        )  # fmt: skip
        assert (second.state, second.session_id, second.started_at, second.wasted) == ("completed", "s0", 1100.0, False)
        assert ledger.run("r1").counts == {"completed": 1} and ledger.task("r1", 0).attempt == 2


def test_an_old_ledger_gains_the_new_columns_and_shows_its_tasks_as_attempts(tmp_path):
    """A ledger without ``site``, causes or the attempts table (as the previous version wrote it)."""
    with sqlite3.connect(ledger_path(tmp_path)) as db:
        db.executescript(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, kind TEXT NOT NULL, config TEXT, section TEXT,"
            " backend TEXT, phase TEXT NOT NULL, finished REAL, remote_dir TEXT, local_dir TEXT, details TEXT NOT NULL DEFAULT '{}');"
            "CREATE TABLE tasks (run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,"
            " state TEXT NOT NULL, session_id TEXT, exit_code INTEGER, message TEXT, launching_at REAL, launched_at REAL,"
            " finished_at REAL, spec TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (run_id, idx));"
        )
        db.execute("INSERT INTO runs (id, created, kind, backend, phase) VALUES ('r0', 1.0, 'split', 'canfar', 'done')")
        db.execute(
            "INSERT INTO tasks (run_id, idx, name, attempt, state, session_id, exit_code, spec)"
            " VALUES ('r0', 1, 's-r0-001-a2', 2, 'completed', 'abc', 0, ?)",
            (json.dumps(OLD_LAYOUT_SPEC),),
        )
    with Ledger(tmp_path) as ledger:
        run, [task] = ledger.run("r0"), ledger.tasks("r0")
        [attempt] = ledger.attempts("r0")
    assert (run.site, run.where, run.to_json()["site"]) == (None, "canfar", "canfar")
    assert (task.cause, task.started_at) == (None, None)
    assert (attempt.attempt, attempt.session_id, attempt.state, attempt.profile_log) == (2, "abc", "completed", "p.txt")
