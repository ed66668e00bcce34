"""SIGKILL the CLI during ``parallel`` at several moments, then ``resume``: nothing twice, nothing lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from conftest import wait_for
from runs_workspace import start_workspace

from srcnet_tui.core.runs.ledger import Ledger, ledger_path
from srcnet_tui.core.runs.scope import RunScope
from srcnet_tui.core.runs.staging import stage
from srcnet_tui.core.runs.storage import LocalArc

TASKS = 4


def _run_state(state_dir):
    if not ledger_path(state_dir).exists():
        return None
    with Ledger(state_dir) as ledger:
        runs = ledger.runs()
        return (runs[0], ledger.tasks(runs[0].id)) if runs else None


def after_plan(state):
    run, tasks = state
    return all(t.state == "planned" for t in tasks)


def mid_launch(state):
    _, tasks = state
    states = Counter(t.state for t in tasks)
    return states["launching"] >= 1 and states["launched"] >= 1 and states["planned"] >= 1


def during_watch(state):
    run, tasks = state
    return run.phase == "watching" and any(t.state == "launched" for t in tasks)


@pytest.fixture
def slow_workspace(tmp_path, state_dir, test_env, local_server_factory):
    return start_workspace(
        tmp_path,
        state_dir,
        test_env,
        local_server_factory,
        small_tasks=True,
        server_options={"fault_latency_ms": 150, "cores": 8},
        thresholds=("3.5",) * (TASKS - 1) + ("1000",),
        sleep_s=1,
    )


@pytest.mark.parametrize("moment", [after_plan, mid_launch, during_watch], ids=lambda f: f.__name__)
def test_sigkill_then_resume_launches_nothing_twice_and_loses_nothing(slow_workspace, state_dir, test_env, cli, tmp_path, moment):
    config, server = slow_workspace
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcnet_tui.core.cli", "parallel", str(config), "--max-launching", "1"],
        cwd=tmp_path,
        env=test_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def reached():
            state = _run_state(state_dir)
            if proc.poll() is not None:
                raise AssertionError(f"the run ended before the kill point: {proc.stderr.read()}")
            return state is not None and moment(state)

        wait_for(reached, timeout_s=60, interval_s=0.01, message=moment.__name__)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        proc.stderr.close()
    run, _ = _run_state(state_dir)

    resumed = cli("resume", run.id, "--json", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["counts"]["completed"] == TASKS - 1 and result["counts"]["no-sources"] == 1

    with server.client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    with Ledger(state_dir) as ledger:
        tasks = ledger.tasks(run.id)
    assert {t.name for t in tasks} == set(names), "every task ran, and nothing else"
    assert all(count == 1 for count in names.values()), f"launched twice: {names}"
    assert len({t.session_id for t in tasks}) == TASKS


async def stage_recorded_run(ledger: Ledger, storage: LocalArc, run_id: str) -> None:
    """What a run's driver does before its first create."""
    await stage(await RunScope.open(ledger, storage, run_id))


def test_resume_adopts_a_session_created_just_before_the_crash(slow_workspace, state_dir, test_env, cli, tmp_path):
    """Task 1 was created on the platform but the CLI died before recording its id; task 2's create never
    arrived. Resume adopts the first by name and launches only the second."""
    from srcnet_tui.core.skaha import SyncSkaha

    config, server = slow_workspace
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcnet_tui.core.cli", "parallel", str(config)],
        cwd=tmp_path,
        env=test_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (s := _run_state(state_dir)) is not None and after_plan(s), timeout_s=60, interval_s=0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    run, _ = _run_state(state_dir)
    with Ledger(state_dir) as ledger:
        asyncio.run(stage_recorded_run(ledger, LocalArc(state_dir / "arc"), run.id))
        first = ledger.mark_launching(run.id, 1)
        ledger.mark_launching(run.id, 2)
    with SyncSkaha(server.url, token=server.token) as client:
        created = client.create(first.launch_spec())[0]

    resumed = cli("resume", run.id, "--json", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"adopted session {created}" in resumed.stderr
    with Ledger(state_dir) as ledger:
        assert ledger.task(run.id, 1).session_id == created
    with server.client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    assert sorted(names.values()) == [1] * TASKS


def test_platform_lost_during_watch_exits_4_and_resume_finishes_after_it_returns(
    tmp_path, state_dir, test_env, local_server_factory, cli
):
    config, server = start_workspace(
        tmp_path,
        state_dir,
        test_env,
        local_server_factory,
        small_tasks=True,
        server_options={"cores": 8},
        thresholds=("3.5", "3.5"),
        sleep_s=2,
    )
    env = {**test_env, "SRCNET_RETRY_ATTEMPTS": "2", "SRCNET_RETRY_TOTAL_S": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcnet_tui.core.cli", "parallel", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (s := _run_state(state_dir)) is not None and during_watch(s), timeout_s=60, interval_s=0.02)
        server.kill()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run, _ = _run_state(state_dir)
    assert proc.returncode == 4, stderr
    assert f"srcnet-tui --headless resume {run.id}" in stderr and "Traceback" not in stderr

    server = local_server_factory(cores=8)
    resumed = cli("resume", run.id, "--json", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["counts"]["completed"] == 2
    with server.client() as http:
        assert sorted(Counter(s["name"] for s in http.get("session").json()).values()) == [1, 1]


async def test_resume_uses_the_staged_copies_when_local_inputs_are_gone(tmp_path, state_dir, test_env, local_server_factory):
    import shutil

    from srcnet_tui.core.connect import open_client
    from srcnet_tui.core.runs.config import load_run_config
    from srcnet_tui.core.runs.ledger import new_run_id
    from srcnet_tui.core.runs.orchestrate import record_plan, resume_run
    from srcnet_tui.core.runs.preflight import checked_plan
    from srcnet_tui.core.runs.scope import Reporter
    from srcnet_tui.core.settings import Settings

    config, _ = start_workspace(tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5",))
    settings = Settings("local", None, None, None, state_dir, "test")
    storage = LocalArc(state_dir / "arc")
    async with open_client(settings) as client:
        plan = await checked_plan(load_run_config(config, kind="parallel"), new_run_id(), client, storage, state_dir)
    with Ledger(state_dir) as ledger:
        record_plan(ledger, plan, settings, tmp_path / "results")
        await stage_recorded_run(ledger, storage, plan.run_id)
    shutil.rmtree(config.parent / "parameter_files")

    notes = []
    reporter = Reporter()
    reporter.notice = notes.append
    result = await resume_run(settings, plan.run_id, reporter=reporter)
    assert [t.state for t in result.tasks] == ["completed"], [(t.state, t.message) for t in result.tasks]
    assert result.exit_code == 0 and any(line.startswith("kept: ") for line in notes)


def test_a_task_whose_session_vanished_without_a_result_is_lost_then_relaunched(
    tmp_path, state_dir, test_env, local_server_factory, cli
):
    config, server = start_workspace(
        tmp_path,
        state_dir,
        test_env,
        local_server_factory,
        small_tasks=True,
        server_options={"ttl": 1},
        thresholds=("3.5", "3.5"),
        sleep_s=1,
    )
    launched = cli("parallel", config, "--no-wait", "--json", timeout=60)
    assert launched.returncode == 0, launched.stderr
    run_id = json.loads(launched.stdout)["id"]
    with server.client() as http:
        wait_for(
            lambda: http.get("session").json() == [],
            timeout_s=60,
            interval_s=0.2,
            message="both sessions to end and expire (ttl 1 s)",
        )
    with Ledger(state_dir) as ledger:
        gone = ledger.task(run_id, 2)
    summary = state_dir / "arc" / gone.spec.outputs.directory.removeprefix("/arc/") / "sofia_profile_002.txt.summary.json"
    summary.unlink()  # as if the session had been evicted before writing anything

    first = cli("resume", run_id, "--json", timeout=60)
    assert first.returncode == 1
    states = {t["index"]: t["state"] for t in json.loads(first.stdout)["tasks_detail"]}
    assert states == {1: "completed", 2: "lost"}
    assert f"resume {run_id}" in first.stderr

    second = cli("resume", run_id, "--json", timeout=90)
    assert second.returncode == 0, second.stderr
    detail = {t["index"]: t for t in json.loads(second.stdout)["tasks_detail"]}
    assert detail[2]["state"] == "completed" and detail[2]["name"].endswith("-002-a2") and detail[2]["attempt"] == 2


async def test_a_driver_cancelled_mid_watch_releases_the_run_and_resume_finishes_it(
    tmp_path, state_dir, test_env, local_server_factory
):
    """What quitting the TUI does to a run it drives on its own loop: the worker is cancelled."""
    from srcnet_tui.core.runs.config import load_run_config
    from srcnet_tui.core.runs.orchestrate import resume_run, start_run
    from srcnet_tui.core.runs.scope import Reporter
    from srcnet_tui.core.settings import Settings

    config, _ = start_workspace(
        tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5", "3.5"), sleep_s=1
    )
    settings = Settings("local", None, None, None, state_dir, "test")
    watching = asyncio.Event()

    class Watching(Reporter):
        def phase(self, run_id: str, phase: str) -> None:
            if phase == "watching":
                watching.set()

    driver = asyncio.ensure_future(start_run(settings, load_run_config(config, kind="parallel"), reporter=Watching()))
    await asyncio.wait_for(watching.wait(), timeout=60)
    driver.cancel()
    with pytest.raises(asyncio.CancelledError):
        await driver
    run, _ = _run_state(state_dir)
    with Ledger(state_dir) as ledger, ledger.driving(run.id):
        assert ledger.run(run.id).phase == "watching"
    result = await resume_run(settings, run.id)
    assert result.exit_code == 0 and [t.state for t in result.tasks] == ["completed", "completed"]


def test_a_run_is_refreshed_and_resumed_only_where_it_was_launched(tmp_path, state_dir, test_env, local_server_factory, cli):
    """Asking another platform about a run's sessions (which it has never heard of) marks nothing lost,
    and resuming it there is refused naming where it ran; at home it finishes with nothing launched twice."""
    config, server = start_workspace(
        tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5",), sleep_s=2
    )
    launched = cli("parallel", config, "--no-wait", "--json", timeout=60)
    assert launched.returncode == 0, launched.stderr
    run_id = json.loads(launched.stdout)["id"]
    elsewhere = local_server_factory(state_dir=tmp_path / "elsewhere")
    other = ("--backend", "canfar", "--url", elsewhere.url, f"--token={elsewhere.token}")  # a token may start with -

    refreshed = cli(*other, "runs", "--refresh", "--json", timeout=60)
    assert refreshed.returncode == 0, refreshed.stderr
    [listed] = [r for r in json.loads(refreshed.stdout) if r["id"] == run_id]
    assert listed["counts"]["lost"] == 0 and listed["counts"]["launched"] == 1 and listed["site"] == "local"
    refused = cli(*other, "resume", run_id, timeout=60)
    assert (
        refused.returncode == 2 and f"run {run_id} ran at site local, not canfar; resume it with --site local" in refused.stderr
    )
    refused = cli(*other, "retry", run_id, timeout=60)
    assert refused.returncode == 2 and f"run {run_id} ran at site local, not canfar; retry it" in refused.stderr

    resumed = cli("resume", run_id, "--json", timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    with server.client() as http:
        assert [s["name"] for s in http.get("session").json()] == [t["name"] for t in json.loads(resumed.stdout)["tasks_detail"]]
