"""serve-local as a platform: admission, lifetimes, restarts, lost sessions, fault injection, daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import psutil
import pytest
from conftest import session_processes, wait_for
from test_local_server import create, status_of, wait_status

SLEEP_UNTIL_GO = "-c import\tos,time\nwhile\tnot\tos.path.exists('go'):time.sleep(0.05)\nprint('went')"


def processes_of(state_dir, session_id):
    return [p for p in session_processes(state_dir) if _env(p).get("skaha_sessionid") == session_id]


def _env(proc):
    try:
        return proc.environ()
    except Exception:
        return {}


def workdir(server, session_id):
    return server.state_dir / "local" / "sessions" / session_id


def test_pending_costs_no_process_and_starts_when_capacity_frees(local_server_factory):
    server = local_server_factory(cores=2, ram_gb=8)
    with server.client() as c:
        big = create(c, "big", args=SLEEP_UNTIL_GO, cores="2").strip()
        wait_status(c, big, "Running")
        waiting = [create(c, f"small-{i}", args="-c pass", cores="1", ram="1").strip() for i in range(3)]
        for sid in waiting:
            assert status_of(c, sid) == "Pending"
            assert processes_of(server.state_dir, sid) == []
            session = c.get(f"session/{sid}").json()
            assert "startTime" not in session and "expiryTime" not in session
            assert c.get(f"session/{sid}", params={"view": "logs"}).text == ""
            response = c.get(f"session/{sid}", params={"view": "events"})
            assert (response.status_code, response.text) == (404, f"session {sid} not found")
        stats = c.get("session", params={"view": "stats"}).json()
        assert stats["cores"]["requestedCPUCores"] == 2
        (workdir(server, big) / "go").touch()
        wait_status(c, big, "Completed")
        for sid in waiting:
            wait_status(c, sid, "Completed")
        assert c.get(f"session/{big}", params={"view": "logs"}).text == "went\n"


def test_flexible_sessions_count_one_core_and_four_gib(local_server_factory):
    server = local_server_factory(cores=4, ram_gb=8)
    with server.client() as c:
        first = create(c, "flex-a", args=SLEEP_UNTIL_GO).strip()
        second = create(c, "flex-b", args=SLEEP_UNTIL_GO).strip()
        third = create(c, "flex-c", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, first, "Running")
        wait_status(c, second, "Running")
        assert status_of(c, third) == "Pending"  # 8 GiB held by two flexible sessions
        (workdir(server, first) / "go").touch()
        wait_status(c, third, "Running")
        for sid in (second, third):
            c.delete(f"session/{sid}")


def test_two_hundred_pending_sessions_cost_no_processes(local_server_factory):
    server = local_server_factory(cores=1, ram_gb=4)
    with server.client() as c:
        blocker = create(c, "blocker", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, blocker, "Running")
        ids = [create(c, f"queued-{i}", args="-c pass").strip() for i in range(200)]
        assert len(set(ids)) == 200
        listing = c.get("session").json()
        assert sum(s["status"] == "Pending" for s in listing) == 200
        assert len(session_processes(server.state_dir)) == 2  # the blocker's shim and its command


def test_session_environment_and_working_directory(local_server):
    script = (
        "-c import\tos,sys,json;print(json.dumps({k:os.environ.get(k)for\tk\tin"
        "['SRCNET_ARC_ROOT','skaha_sessionid','skaha_username','OMP_NUM_THREADS','REPLICA_ID','REPLICA_COUNT','PATH']}|{'cwd':os.getcwd()}))"
    )
    with local_server.client() as c:
        sid = create(c, "envy", args=script, cores="2", env=["REPLICA_ID=1", "REPLICA_COUNT=2", "DROPPED=a=b"]).strip()
        wait_status(c, sid, "Completed")
        seen = json.loads(c.get(f"session/{sid}", params={"view": "logs"}).text)
    assert seen["SRCNET_ARC_ROOT"] == str(local_server.state_dir / "arc")
    assert seen["skaha_sessionid"] == sid and seen["skaha_username"]
    assert seen["OMP_NUM_THREADS"] == "2" and seen["REPLICA_ID"] == "1" and seen["REPLICA_COUNT"] == "2"
    assert seen["PATH"].split(os.pathsep)[0] == os.path.dirname(os.path.realpath(os.sys.executable)) or seen["PATH"].split(
        os.pathsep
    )[0] == os.path.dirname(os.sys.executable)
    assert seen["cwd"] == str(workdir(local_server, sid))


def test_sessions_outlive_the_server_and_are_readopted_after_kill_9(local_server_factory, state_dir):
    server = local_server_factory()
    with server.client() as c:
        running = create(c, "survivor", args=SLEEP_UNTIL_GO).strip()
        finishes_while_down = create(c, "quick", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, running, "Running")
        wait_status(c, finishes_while_down, "Running")
    server.kill()
    assert processes_of(state_dir, running), "a session must outlive its server"
    (workdir(server, finishes_while_down) / "go").touch()
    wait_for(lambda: not processes_of(state_dir, finishes_while_down), 10, message="quick session to end while no server runs")

    again = local_server_factory(state_dir=state_dir)
    with again.client() as c:
        assert status_of(c, running) == "Running"
        assert status_of(c, finishes_while_down) == "Completed"
        assert c.get(f"session/{finishes_while_down}", params={"view": "logs"}).text == "went\n"
        (workdir(again, running) / "go").touch()
        wait_status(c, running, "Completed")
        assert "Adopted" in c.get(f"session/{running}", params={"view": "events"}).text


def test_a_session_lost_while_the_server_was_down_is_reported_failed(local_server_factory, state_dir):
    server = local_server_factory()
    with server.client() as c:
        sid = create(c, "doomed", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, sid, "Running")
    server.kill()

    def kill_everything_of_the_session():  # e.g. the machine's OOM killer, or a reboot
        found = processes_of(state_dir, sid)
        for proc in found:
            proc.kill()
        return not found

    wait_for(kill_everything_of_the_session, 10, message="processes gone")
    again = local_server_factory(state_dir=state_dir)
    with again.client() as c:
        assert status_of(c, sid) == "Failed"
        events = c.get(f"session/{sid}", params={"view": "events"}).text
        assert "ProcessLost" in events and "restarted" in events


def test_finished_sessions_vanish_after_ttl(local_server_factory):
    server = local_server_factory(ttl=2)  # long enough to see Completed on a busy machine
    with server.client() as c:
        sid = create(c, "brief", args="-c print('bye')").strip()
        wait_status(c, sid, "Completed")
        wait_for(lambda: c.get(f"session/{sid}").status_code == 404, 10, message="TTL expiry")
        assert c.get(f"session/{sid}", params={"view": "logs"}).status_code == 404
        meta = server.state_dir / "local" / "meta" / sid
        wait_for(lambda: not meta.exists() and not workdir(server, sid).exists(), 5, message="the session's folders to go")


def test_max_runtime_ends_the_session_as_failed(local_server_factory):
    server = local_server_factory(max_runtime=1)
    with server.client() as c:
        sid = create(c, "forever", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, sid, "Failed", timeout_s=15)
        assert "DeadlineExceeded" in c.get(f"session/{sid}", params={"view": "events"}).text
        wait_for(lambda: not processes_of(server.state_dir, sid), 10, message="processes ended")


def test_deleting_a_pending_session_never_starts_it(local_server_factory):
    server = local_server_factory(cores=1, ram_gb=4)
    with server.client() as c:
        blocker = create(c, "blocker", args=SLEEP_UNTIL_GO).strip()
        queued = create(c, "queued", args="-c pass").strip()
        assert c.delete(f"session/{queued}").status_code == 200
        assert c.get(f"session/{queued}").status_code == 404
        c.delete(f"session/{blocker}")
        assert c.get("session").json() == []


def test_fault_503_answers_before_acting(local_server_factory):
    server = local_server_factory(fault_503_rate=1.0)
    with server.client() as c:
        response = c.post("session", data={"name": "x", "image": "images.canfar.net/a", "cmd": "true"})
        assert response.status_code == 503 and response.text == "temporarily unavailable: /skaha/v1/session"
        assert "retry-after" in response.headers
        assert httpx.get(server.root + "/availability", trust_env=False).status_code == 200
    assert not list((server.state_dir / "local" / "meta").iterdir())


def test_fault_drop_happens_after_acting(local_server_factory, state_dir):
    server = local_server_factory(fault_drop_rate=1.0)
    with server.client() as c, pytest.raises(httpx.TransportError):
        c.post("session", data={"name": "ghost", "image": "images.canfar.net/a", "cmd": "true"})
    server.stop()
    clean = local_server_factory(state_dir=state_dir)
    with clean.client() as c:
        assert [s["name"] for s in c.get("session").json()] == ["ghost"]


def test_fault_latency_and_seeded_rates(local_server_factory):
    server = local_server_factory(fault_latency_ms=100, fault_503_rate=0.5, fault_seed=7)
    with server.client() as c:
        started = time.monotonic()
        codes = [c.get("context").status_code for _ in range(8)]
        assert time.monotonic() - started >= 8 * 0.1
        assert set(codes) == {200, 503}


def test_daemon_is_started_once_and_reused_by_concurrent_processes(state_dir, test_env):
    from srcnet_tui.core.local import daemon

    code = "import sys;from srcnet_tui.core.local import daemon;print(daemon.ensure_running(sys.argv[1]).url)"
    racers = [
        subprocess.Popen([sys.executable, "-c", code, str(state_dir)], env=test_env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    urls = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert len(urls) == 1 and all(racer.returncode == 0 for racer in racers)
    servers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(state_dir) in " ".join(p.info["cmdline"] or []) and "serve-local" in p.info["cmdline"]
    ]
    assert len(servers) == 1
    endpoint = daemon.ensure_running(state_dir)
    assert endpoint.url in urls
    assert "token" not in repr(endpoint) or "***" in repr(endpoint)
    assert oct((state_dir / "local" / "token").stat().st_mode & 0o777) == "0o600"
    response = httpx.get(endpoint.url + "/session", headers={"Authorization": f"Bearer {endpoint.token}"}, trust_env=False)
    assert response.status_code == 200
    assert daemon.ensure_running(state_dir).url == endpoint.url
    assert daemon.stop(state_dir) is True
    assert daemon.stop(state_dir) is False


def test_a_daemon_left_by_other_code_is_replaced_and_its_running_session_adopted(state_dir):
    from srcnet_tui.core.local import daemon
    from srcnet_tui.core.local.service import read_server_file, server_file, software_version
    from srcnet_tui.core.local.store import write_json_atomic

    endpoint = daemon.ensure_running(state_dir)
    with httpx.Client(base_url=endpoint.url + "/", headers={"Authorization": f"Bearer {endpoint.token}"}, trust_env=False) as c:
        sid = create(c, "survivor", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, sid, "Running")
    before = {p.pid for p in processes_of(state_dir, sid)}
    old = read_server_file(state_dir)
    write_json_atomic(server_file(state_dir), {**old, "version": "0.0.1+older"})  # as a daemon of older code announced

    upgraded = daemon.ensure_running(state_dir)
    info = read_server_file(state_dir)
    assert info["pid"] != old["pid"] and info["version"] == software_version()
    assert daemon.ensure_running(state_dir).url == upgraded.url  # the new one is reused
    assert before <= {p.pid for p in processes_of(state_dir, sid)}  # the session's processes were never touched
    with httpx.Client(base_url=upgraded.url + "/", headers={"Authorization": f"Bearer {upgraded.token}"}, trust_env=False) as c:
        assert status_of(c, sid) == "Running"
        assert "Adopted" in c.get(f"session/{sid}", params={"view": "events"}).text
        (state_dir / "local" / "sessions" / sid / "go").touch()
        wait_status(c, sid, "Completed")
        assert c.get(f"session/{sid}", params={"view": "logs"}).text == "went\n"


def test_unreadable_state_is_one_line_and_exit_2(cli, state_dir):
    bad = state_dir / "local" / "meta" / "abcd1234"
    bad.mkdir(parents=True)
    (bad / "session.json").write_text("{not json")
    result = cli("serve-local", "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "session.json" in lines[0] and "Traceback" not in result.stderr


def test_second_server_on_the_same_state_folder_is_refused(local_server, cli):
    result = cli("serve-local", "--port", "0")
    assert result.returncode == 2 and "already running" in result.stderr


def test_cli_in_local_mode_reports_an_unreadable_state_folder_in_one_line(cli, state_dir):
    (state_dir / "local" / "meta" / "abcd1234").mkdir(parents=True)
    (state_dir / "local" / "meta" / "abcd1234" / "session.json").write_text("[1, 2")
    result = cli("--backend", "local", "sessions")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "abcd1234/session.json" in errors[0] and "Traceback" not in result.stderr


def test_serve_local_stop_ends_the_server_but_not_its_sessions(local_server, cli):
    with local_server.client() as c:
        sid = create(c, "keeps-going", args=SLEEP_UNTIL_GO).strip()
        wait_status(c, sid, "Running")
    result = cli("serve-local", "--stop")
    assert result.returncode == 0 and "stopped" in result.stderr
    assert local_server.proc.wait(10) == 0
    assert processes_of(local_server.state_dir, sid)
    assert "no server was running" in cli("serve-local", "--stop").stderr


def test_modules_in_the_state_folder_never_shadow_the_daemons_own(cli, state_dir):
    (state_dir / "local").mkdir()
    (state_dir / "local" / "rich.py").write_text("raise SystemExit('shadowed by the state folder')\n")
    result = cli("--backend", "local", "sessions")
    assert result.returncode == 0, result.stderr
    assert "no Pending or Running sessions" in result.stderr


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_one_line_and_exit_2(cli, port):
    result = cli("serve-local", "--port", port)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "--port" in line and port in line


def test_the_global_canfar_token_is_not_taken_as_the_local_servers(local_server_factory):
    server = local_server_factory(global_args=("--token", "CANFAR-SECRET"), own_token=False)
    assert server.token != "CANFAR-SECRET"
    with server.client() as c:
        assert c.get("session").status_code == 200
        assert c.get("session", headers={"Authorization": "Bearer CANFAR-SECRET"}).status_code in (401, 403)


def test_a_session_finds_a_tool_installed_after_the_server_started(local_server, cli, tmp_path):
    assert cli("sessions").returncode == 0  # the server is up and in use before the tool exists
    bin_dir = tmp_path / "installed-later"
    bin_dir.mkdir()
    tool = bin_dir / "late-tool"
    tool.write_text(f"#!{sys.executable}\nprint('late tool ran')\n")
    tool.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    image = "images.canfar.net/skaha/terminal:1.1.2"
    launched = cli("launch", "--name", "late", "--image", image, "--", "late-tool", env={"PATH": path})
    assert launched.returncode == 0, launched.stderr
    session_id = launched.stdout.split()[0]
    waited = cli("wait", session_id, "--timeout", "30", env={"PATH": path})
    assert waited.returncode == 0, waited.stderr + cli("logs", session_id).stdout
    assert "late tool ran" in cli("logs", session_id).stdout
