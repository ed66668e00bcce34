"""serve-local queues like CANFAR's Kueue: interactive sessions go first and evict running headless ones,
which go back to Pending and start again from the beginning (same id, later start time)."""

from __future__ import annotations

import os
import threading
import time

import psutil
from conftest import wait_for
from test_local_server import IMAGE, create, status_of, wait_status
from test_local_server_lifecycle import processes_of, workdir

ATTEMPT = "-c import\tos,time\nprint('started',flush=True)\nwhile\tnot\tos.path.exists('go'):time.sleep(0.05)\nprint('went')"


def logs(c, session_id: str) -> str:
    return c.get(f"session/{session_id}", params={"view": "logs"}).text


def reasons(c, session_id: str) -> list[str]:
    return [line.split()[1] for line in c.get(f"session/{session_id}", params={"view": "events"}).text.splitlines()[1:]]


def launch_notebook(c, name: str = "nb", **params) -> str:
    response = c.post("session", data={"name": name, "image": IMAGE, "type": "notebook", "cores": "1", "ram": "1", **params})
    assert response.status_code == 200, response.text
    return response.text.strip()


def started_running(c, session_id: str) -> dict:
    """The session once Running with its command's first line logged."""
    wait_status(c, session_id, "Running")
    wait_for(lambda: "started" in logs(c, session_id), 15, message=f"{session_id} to start its command")
    return c.get(f"session/{session_id}").json()


def after_the_second_of(start_time: str) -> bool:
    """True once the clock has passed ``start_time`` (Skaha's times have whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > start_time


def gone(processes: list[psutil.Process]) -> bool:
    return not any(map(_alive, processes))


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_an_interactive_launch_preempts_a_headless_session_which_restarts_from_the_beginning(local_server_factory):
    server = local_server_factory(cores=2, ram_gb=8)
    with server.client() as c:
        batch = create(c, "batch", args=ATTEMPT, cores="2", ram="1").strip()
        first = started_running(c, batch)
        first_processes = processes_of(server.state_dir, batch)
        notebook = launch_notebook(c)
        queued = c.get(f"session/{batch}").json()  # the eviction is decided before the create is answered
        assert queued["status"] == "Pending" and "startTime" not in queued and "expiryTime" not in queued
        assert logs(c, batch) == ""
        assert c.get(f"session/{batch}", params={"view": "events"}).status_code == 404
        wait_status(c, notebook, "Running")
        wait_for(lambda: gone(first_processes), 10, message="the preempted session's processes to end")
        assert status_of(c, batch) == "Pending"  # no room while the notebook runs
        wait_for(lambda: after_the_second_of(first["startTime"]), 5, message="the clock to pass the first start")
        c.delete(f"session/{notebook}")
        again = started_running(c, batch)
        assert again["id"] == batch and again["startTime"] > first["startTime"]
        assert logs(c, batch) == "started\n"  # a fresh attempt: the first one's log is gone
        (workdir(server, batch) / "go").touch()
        wait_status(c, batch, "Completed")
        assert reasons(c, batch) == ["Scheduled", "Started", "Preempted", "Scheduled", "Started", "Completed"]
        events = c.get(f"session/{batch}", params={"view": "events"}).text
        assert f"Preempted to accommodate a workload (UID: {notebook}, JobUID: {notebook})" in events


def test_no_preempt_keeps_the_headless_session_running_and_the_notebook_waits(local_server_factory):
    server = local_server_factory(cores=2, ram_gb=8, no_preempt=True)
    with server.client() as c:
        batch = create(c, "batch", args=ATTEMPT, cores="2", ram="1").strip()
        started_running(c, batch)
        notebook = launch_notebook(c)
        assert (status_of(c, batch), status_of(c, notebook)) == ("Running", "Pending")
        (workdir(server, batch) / "go").touch()
        wait_status(c, batch, "Completed")
        wait_status(c, notebook, "Running")
        assert "Preempted" not in reasons(c, batch) and logs(c, batch) == "started\nwent\n"
        c.delete(f"session/{notebook}")


def test_a_preemption_forced_by_fault_injection_restarts_the_session(local_server_factory, local_server):
    with local_server.client() as c:
        sid = create(c, "batch", args=ATTEMPT).strip()
        started_running(c, sid)
        response = c.post(f"session/{sid}", data={"action": "preempt"})
        assert (response.status_code, response.text) == (400, "unrecognized action")  # not without the fault flag
        c.delete(f"session/{sid}")
    server = local_server_factory(state_dir=local_server.state_dir.parent / "faulty", fault_preempt=True)
    with server.client() as c:
        sid = create(c, "batch", args=ATTEMPT).strip()
        first = started_running(c, sid)
        wait_for(lambda: after_the_second_of(first["startTime"]), 5, message="the clock to pass the first start")
        assert c.post(f"session/{sid}", data={"action": "preempt"}).status_code == 200
        wait_for(lambda: "Preempted" in c.get(f"session/{sid}", params={"view": "events"}).text, 15, message="restart")
        again = started_running(c, sid)
        assert again["startTime"] > first["startTime"] and logs(c, sid) == "started\n"
        (workdir(server, sid) / "go").touch()
        wait_status(c, sid, "Completed")
        assert c.post(f"session/{sid}", data={"action": "preempt"}).text.startswith("No active job for user")


def test_an_eviction_cut_short_by_kill_9_is_finished_by_the_next_server(local_server_factory, state_dir, monkeypatch):
    """The server records the preemption, then dies before ending the processes: the next one ends them and restarts it."""
    from srcnet_tui.core.local.context import Capacity, LaunchRequest
    from srcnet_tui.core.local.journal import Journal
    from srcnet_tui.core.local.scheduler import Limits, Scheduler
    from srcnet_tui.core.local.store import Store

    store = Store(state_dir)
    store.prepare()
    doomed = Scheduler(store, Limits(Capacity(2, 8)))
    doomed.recover()
    sid = doomed.create(LaunchRequest("batch", IMAGE, "headless", "python", ATTEMPT.split(" ")))
    wait_for(lambda: b"started" in store.read_log(sid), 10, message="the first attempt to start")
    first_processes = processes_of(state_dir, sid)
    monkeypatch.setattr(doomed, "_in_background", lambda *args: None)  # the crash comes before the processes end
    doomed.preempt(sid)
    assert Journal(store.root).load()[sid]["evicting"] and not gone(first_processes)
    # The shim is this test's child: reap it when the next server ends it, as a real server's shim is reaped.
    threading.Thread(target=os.waitpid, args=(store.shim_info(sid)["pid"], 0), daemon=True).start()

    server = local_server_factory(state_dir=state_dir)
    with server.client() as c:
        wait_for(lambda: gone(first_processes), 10, message="the first attempt's processes to end")
        started_running(c, sid)
        assert logs(c, sid) == "started\n"
        (workdir(server, sid) / "go").touch()
        wait_status(c, sid, "Completed")
        assert reasons(c, sid).count("Started") == 2 and "Preempted" in reasons(c, sid)


def test_interactive_sessions_are_capped_per_user_and_run_an_idle_command_without_cmd(local_server_factory):
    server = local_server_factory(cores=1, ram_gb=8)
    with server.client() as c:
        notebooks = [launch_notebook(c, f"nb-{i}", cores="", ram="") for i in range(5)]
        response = c.post("session", data={"name": "one-more", "image": IMAGE, "type": "desktop"})
        assert response.status_code == 400 and response.text.endswith("has reached the maximum of 5 active sessions.")
        assert create(c, "headless-is-not-counted", args="-c pass").strip()
        wait_status(c, notebooks[0], "Running")
        assert [status_of(c, sid) for sid in notebooks[1:]] == ["Pending"] * 4  # one core: one at a time
        assert processes_of(server.state_dir, notebooks[0])
        assert [s["id"] for s in c.get("session", params={"view": "interactive"}).json()] == notebooks
        for sid in notebooks:
            c.delete(f"session/{sid}")
