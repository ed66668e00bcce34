"""kill -9 of serve-local at random moments while clients create and delete: the next start must agree
with what clients were told and with the processes that actually exist."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import session_processes, wait_for
from test_local_server import IMAGE

COMMANDS = {
    "ok": "-c pass",
    "bad": "-c raise\tSystemExit(3)",
    "long": "-c import\ttime;time.sleep(60)",
}


def _client_load(server, stop: threading.Event, created: dict, deleted: set, seed: int) -> None:
    rnd = random.Random(seed)
    with server.client(timeout=5) as c:
        for _ in range(40):
            if stop.is_set():
                return
            try:
                if created and rnd.random() < 0.25:
                    victim = rnd.choice(sorted(created))
                    deleted.add(victim)  # before sending: a crash may hide whether it happened
                    c.delete(f"session/{victim}")
                    continue
                kind = rnd.choice(sorted(COMMANDS))
                response = c.post("session", data={"name": f"{kind}-x", "image": IMAGE, "cmd": "python", "args": COMMANDS[kind]})
                if response.status_code == 200:
                    created[response.text.strip()] = kind
            except httpx.HTTPError:
                return  # the server died under us


def _listed(server) -> dict[str, dict]:
    with server.client() as c:
        return {s["id"]: s for s in c.get("session").json()}


def _session_ids_with_processes(state_dir) -> set[str]:
    ids = set()
    for proc in session_processes(state_dir):
        try:
            ids.add(proc.environ()["skaha_sessionid"])
        except Exception:
            continue
    return ids


def test_random_kill_9_never_loses_or_duplicates_anything(local_server_factory, state_dir):
    created: dict[str, str] = {}
    deleted: set[str] = set()
    rnd = random.Random(2026)
    for round_no in range(4):
        server = local_server_factory(state_dir=state_dir, cores=2, ram_gb=8)
        stop = threading.Event()
        workers = [
            threading.Thread(target=_client_load, args=(server, stop, created, deleted, round_no * 10 + i)) for i in range(3)
        ]
        for w in workers:
            w.start()
        time.sleep(rnd.uniform(0.2, 0.8))  # the crash point is what varies, not a synchronisation
        server.kill()
        stop.set()
        for w in workers:
            w.join(10)

    server = local_server_factory(state_dir=state_dir, cores=2, ram_gb=8)
    listed = _listed(server)
    assert created, "the load generator created nothing"
    for session_id, kind in created.items():
        if session_id in deleted:
            continue
        assert session_id in listed, f"{kind} session {session_id} was acknowledged but is lost"
    # Every listed session's state is backed by reality, and no process exists outside a listed session.
    with server.client() as c:
        for session_id, session in listed.items():
            if session["status"] in ("Completed", "Failed"):
                kind = created.get(session_id)
                if kind == "ok":
                    assert session["status"] == "Completed", c.get(f"session/{session_id}", params={"view": "events"}).text
                if kind == "bad":
                    assert session["status"] == "Failed"
    alive = _session_ids_with_processes(state_dir)
    running = {sid for sid, s in _listed(server).items() if s["status"] == "Running"}
    assert alive <= running | {sid for sid, s in _listed(server).items() if s["status"] in ("Completed", "Failed")}
    assert not alive - set(listed), "processes of deleted or forgotten sessions survived"
    # Everything can be deleted (concurrently, as a client would) and leaves nothing behind.
    with server.client() as c, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda sid: c.delete(f"session/{sid}"), listed))
        assert c.get("session").json() == []
    wait_for(lambda: not session_processes(state_dir), 10, message="all session processes gone")


def test_a_crash_between_starting_a_process_and_recording_it_is_recovered(local_server_factory, state_dir, monkeypatch):
    """The server forks the shim, then dies before its record says Running: the next server adopts it."""
    from srcnet_tui.core.local.context import Capacity, LaunchRequest
    from srcnet_tui.core.local.journal import Journal
    from srcnet_tui.core.local.scheduler import Limits, Scheduler
    from srcnet_tui.core.local.store import Store

    store = Store(state_dir)
    store.prepare()
    doomed = Scheduler(store, Limits(Capacity(2, 8)))
    doomed.recover()
    monkeypatch.setattr(doomed, "_save", lambda record: None)  # nothing after the create's own record reaches disk
    wait_go = ["-c", "import os,time\nwhile not os.path.exists('go'): time.sleep(0.05)"]
    survivor = doomed.create(LaunchRequest("survivor", IMAGE, "headless", "python", wait_go))
    finished = doomed.create(LaunchRequest("finished", IMAGE, "headless", "python", ["-c", "print('done')"]))
    wait_for(lambda: store.exit_status(finished), 10, message="second session to end")
    assert Journal(store.root).load()[survivor]["state"] == "Pending"

    server = local_server_factory(state_dir=state_dir)
    listed = _listed(server)
    assert listed[survivor]["status"] == "Running" and "startTime" in listed[survivor]
    assert listed[finished]["status"] == "Completed"
    with server.client() as c:
        assert c.get(f"session/{finished}", params={"view": "logs"}).text == "done\n"
        (store.workdir(survivor) / "go").touch()
        wait_for(lambda: c.get(f"session/{survivor}").json()["status"] == "Completed", 10, message="adopted session to complete")


def test_a_crash_during_a_delete_is_finished_by_the_next_server(local_server_factory, state_dir):
    stubborn = "-c import\tsignal,time;signal.signal(signal.SIGTERM,signal.SIG_IGN);print('ready',flush=True);time.sleep(60)"
    server = local_server_factory(state_dir=state_dir)
    with server.client() as c, server.client() as watcher:
        sid = c.post("session", data={"name": "stubborn", "image": IMAGE, "cmd": "python", "args": stubborn}).text.strip()
        wait_for(lambda: "ready" in c.get(f"session/{sid}", params={"view": "logs"}).text, 15, message="ready")
        deleting = threading.Thread(target=lambda: _ignore_transport_errors(c.delete, f"session/{sid}"))
        deleting.start()
        wait_for(lambda: watcher.get(f"session/{sid}").json()["status"] == "Terminating", 5, message="Terminating")
        server.kill()  # during the grace period: the record on disk says Terminating, the process ignores SIGTERM
        deleting.join(10)
    assert session_processes(state_dir)
    again = local_server_factory(state_dir=state_dir)
    with again.client() as c:
        wait_for(lambda: c.get(f"session/{sid}").status_code == 404, 15, message="the interrupted delete to complete")
    wait_for(lambda: not session_processes(state_dir), 10, message="no process left")


def _ignore_transport_errors(call, *args):
    try:
        call(*args)
    except httpx.TransportError:
        pass
