"""serve-local over real HTTP: Skaha's shapes, texts and status transitions, with real processes."""

from __future__ import annotations

import sys
import threading
import time

import httpx
import pytest
from conftest import session_processes, wait_for

IMAGE = "images.canfar.net/srcnet/sofia-task:2.5.0"
PY = sys.executable


def create(client: httpx.Client, name: str = "job", cmd: str = "python", args: str | None = None, **params) -> str:
    data = {"name": name, "image": IMAGE, "cmd": cmd, **params}
    if args is not None:
        data["args"] = args
    response = client.post("session", data=data)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def status_of(client: httpx.Client, session_id: str) -> str | None:
    response = client.get(f"session/{session_id}")
    return response.json()["status"] if response.status_code == 200 else None


def wait_status(client, session_id, wanted, timeout_s=15.0):
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    return wait_for(lambda: status_of(client, session_id) in wanted, timeout_s, message=f"{session_id} to be {wanted}")


def test_create_returns_id_and_session_runs_to_completed_with_logs(local_server):
    with local_server.client() as c:
        body = create(c, "Hello-World", args="-c print('hello-out');import\tsys", env="A=1")
        assert body.endswith("\n") and len(body.strip()) == 8 and body.strip().isalnum() and body.strip().islower()
        sid = body.strip()
        # args split on single spaces: "-c" and one python statement (no spaces inside)
        sid2 = create(c, "hi", args="-c print('hello-out')").strip()
        wait_status(c, sid2, "Completed")
        assert c.get(f"session/{sid2}", params={"view": "logs"}).text == "hello-out\n"
        session = c.get(f"session/{sid2}").json()
        assert session["name"] == "hi" and session["type"] == "headless" and session["image"] == IMAGE
        assert session["startTime"].endswith("Z") and session["connectURL"] == ""
        assert "requestedRAM" not in session and session["isFixedResources"] is False
        wait_status(c, sid, ("Completed", "Failed"))
        assert c.get(f"session/{sid}").json()["name"] == "hello-world"


def test_exit_codes_map_to_statuses_and_events(local_server):
    with local_server.client() as c:
        ok = create(c, "ok", args="-c pass").strip()
        bad = create(c, "bad", args="-c raise SystemExit(3)").strip()
        # "raise SystemExit(3)" has spaces, so args arrive split: python -c raise SystemExit(3) -> exit 1
        wait_status(c, ok, "Completed")
        wait_status(c, bad, "Failed")
        events = c.get(f"session/{bad}", params={"view": "events"}).text
        lines = events.splitlines()
        assert lines[0].split() == ["TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME"]
        reasons = [line.split()[1] for line in lines[1:]]
        assert reasons[:2] == ["Scheduled", "Started"] and "BackoffLimitExceeded" in reasons


def test_exit_code_is_reported_from_the_command(local_server):
    with local_server.client() as c:
        sid = create(c, "three", cmd="bash", args="-c exit\t3").strip()
        wait_status(c, sid, "Failed")
        assert "exit" in c.get(f"session/{sid}", params={"view": "events"}).text


def test_list_filters_and_json_shape(local_server):
    with local_server.client() as c:
        sid = create(c, "sleeper", args="-c import\ttime;time.sleep(30)", cores="1", ram="1").strip()
        wait_status(c, sid, "Running")
        listing = c.get("session", params={"type": "headless", "status": "running"}).json()
        assert [s["id"] for s in listing] == [sid]
        assert c.get("session", params={"status": "Completed"}).json() == []
        session = listing[0]
        assert session["requestedCPUCores"] == "1" and session["requestedRAM"] == "1.07"
        assert session["isFixedResources"] is True and session["requestedGPUCores"] == "0"
        assert list(session)[:3] == ["id", "userid", "runAsUID"]
        wait_for(lambda: "cpuCoresInUse" in c.get(f"session/{sid}").json(), 5, message="usage")
        usage = c.get(f"session/{sid}").json()
        assert float(usage["ramInUse"]) > 0 and len(usage["cpuCoresInUse"].split(".")[1]) == 3
        c.delete(f"session/{sid}")


def test_delete_is_always_200_and_kills_the_whole_tree(local_server):
    with local_server.client() as c:
        # the session spawns children and a grandchild in its own session (setsid), then sleeps
        script = (
            "import\tsubprocess,sys,time;"
            "[subprocess.Popen([sys.executable,'-c','import\\ttime;time.sleep(60)'],start_new_session=i==0)for\ti\tin\trange(3)];"
            "print('spawned',flush=True);time.sleep(60)"
        )
        sid = create(c, "tree", args=f"-c {script}").strip()
        wait_for(lambda: "spawned" in c.get(f"session/{sid}", params={"view": "logs"}).text, 15, message="children")
        assert len(session_processes(local_server.state_dir)) >= 5  # shim, main, 3 children
        response = c.delete(f"session/{sid}")
        assert response.status_code == 200 and response.text == ""
        wait_for(lambda: not session_processes(local_server.state_dir), 10, message="no session process left")
        assert c.get(f"session/{sid}").status_code == 404
        assert c.delete("session/nosuchid").status_code == 200
        response = c.delete("session")
        assert (response.status_code, response.text) == (400, "Cannot kill all sessions.")


def test_not_found_texts(local_server):
    with local_server.client() as c:
        for view in (None, "logs", "events"):
            response = c.get("session/abcd1234", params={"view": view} if view else None)
            assert (response.status_code, response.text) == (404, "session abcd1234 not found")


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"name": "bad_name"}, "name can only contain alpha-numeric chars and '-'"),
        (
            {"image": "docker.io/library/python:3"},
            "session image 'docker.io/library/python:3' must come from one of [images.canfar.net]",
        ),
        ({"cores": "99"}, "Invalid value for 'cores': 99"),
        ({"ram": "3"}, "Invalid value for 'ram': 3"),
        ({"gpus": "1"}, "Invalid value for 'gpus': 1"),
        ({"type": "weird"}, "Invalid session type: weird"),
    ],
)
def test_create_refusals_use_skaha_texts(local_server, params, text):
    with local_server.client() as c:
        data = {"name": "x", "image": IMAGE, "cmd": "true", **params}
        response = c.post("session", data=data)
        assert response.status_code == 400 and response.text == text
        assert response.headers["content-type"].startswith("text/plain")
        assert c.get("session").json() == []


def test_create_without_cmd_or_content_type_is_refused(local_server):
    with local_server.client() as c:
        response = c.post("session", data={"name": "x", "image": IMAGE})
        assert response.status_code == 400 and "cmd" in response.text
        # cadc-rest ignores parameters without the form content type, even in the query string
        response = c.post("session", params={"name": "x", "image": IMAGE, "cmd": "true"})
        assert (response.status_code, response.text) == (400, "Missing parameter 'image'")
        # with the header, query-string parameters count
        response = c.post(
            "session",
            params={"name": "x", "image": IMAGE, "cmd": "true"},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200


def test_token_required(local_server):
    with httpx.Client(base_url=local_server.url + "/", trust_env=False) as c:
        assert (c.get("session").status_code, c.get("session").text) == (401, "Unauthorized")
        assert c.get("session", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert c.get("context", headers={"Authorization": "Bearer " + local_server.token}).status_code == 200
        # discovery endpoints are public
        assert c.get(local_server.root + "/availability").status_code == 200
        assert c.head(local_server.root).status_code == 200
        caps = c.get(local_server.root + "/capabilities").text
        assert "platform#session-1" in caps and f"{local_server.url}/session" in caps and "sso#token" in caps


def test_context_images_repository(local_server_factory):
    server = local_server_factory(cores=3, ram_gb=9)
    with server.client() as c:
        context = c.get("context").json()
        assert context["cores"]["options"] == [1, 2, 3]
        assert context["memoryGB"]["options"] == [1, 2, 4, 6, 8]
        assert context["gpus"]["options"] == []
        ids = [i["id"] for i in c.get("image", params={"type": "headless"}).json()]
        assert "images.canfar.net/srcnet/sofia-task:2.5.0" in ids and "images.canfar.net/skaha/terminal:1.1.2" in ids
        assert c.get("repository").json() == ["images.canfar.net"]
        stats = c.get("session", params={"view": "stats"}).json()
        assert stats["cores"]["cpuCoresAvailable"] == 3 and stats["ram"]["maxRAM"]["ram"] == "8Gi"


def test_renew_keeps_a_session_past_its_maximum_runtime(local_server_factory):
    server = local_server_factory(max_runtime=1.5)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with server.client() as c:
        sid = create(c, "kept", args="-c import\ttime;time.sleep(30)").strip()
        wait_status(c, sid, "Running")
        until = time.monotonic() + 2.5  # beyond the maximum runtime: time passing is the point here
        while time.monotonic() < until:
            assert c.post(f"session/{sid}", params={"action": "renew"}, headers=form).status_code == 200
            time.sleep(0.2)
        assert status_of(c, sid) == "Running"
        wait_status(c, sid, "Failed", timeout_s=5)  # no more renewals: the deadline ends it


def test_renew(local_server):
    with local_server.client() as c:
        sid = create(c, "renewme", args="-c import\ttime;time.sleep(30)").strip()
        wait_status(c, sid, "Running")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert c.post(f"session/{sid}", params={"action": "renew"}, headers=form).status_code == 200
        response = c.post(f"session/{sid}", params={"action": "explode"}, headers=form)
        assert (response.status_code, response.text) == (400, "unrecognized action")
        response = c.post("session/zzzz0000", params={"action": "renew"}, headers=form)
        assert response.status_code == 400 and response.text.startswith("No active job for user")
        c.delete(f"session/{sid}")


def test_delete_escalates_to_sigkill_for_processes_ignoring_sigterm(local_server):
    stubborn = "import\\tsignal,time;signal.signal(signal.SIGTERM,signal.SIG_IGN);time.sleep(60)"
    script = (
        "import\tsignal,subprocess,sys,time;signal.signal(signal.SIGTERM,signal.SIG_IGN);"
        f"subprocess.Popen([sys.executable,'-c','{stubborn}']);print('ready',flush=True);time.sleep(60)"
    )
    with local_server.client() as c, local_server.client() as watcher:
        sid = create(c, "stubborn", args=f"-c {script}").strip()
        wait_for(lambda: "ready" in c.get(f"session/{sid}", params={"view": "logs"}).text, 15, message="ready")
        deleting = threading.Thread(target=lambda: c.delete(f"session/{sid}"))
        deleting.start()
        wait_for(lambda: status_of(watcher, sid) == "Terminating", 5, message="Terminating while the grace period runs")
        assert "Killing" in watcher.get(f"session/{sid}", params={"view": "events"}).text
        deleting.join(15)
        assert not session_processes(local_server.state_dir)
        assert c.get(f"session/{sid}").status_code == 404


def test_view_all_and_public_paths(local_server):
    with local_server.client() as c:
        sid = create(c, "pub", args="-c pass").strip()
        wait_status(c, sid, "Completed")
        rows = c.get("session", params={"view": "all"}).json()
        assert rows == [
            {"userid": rows[0]["userid"], "type": "headless", "status": "Completed", "startTime": rows[0]["startTime"]}
        ]
        assert c.get("session", params={"view": "interactive"}).json() == []
        assert c.get(local_server.root + "/nowhere").status_code == 404


def test_malformed_requests_get_answers_not_hangs(local_server):
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(local_server.url)
    with socket.create_connection((where.hostname, where.port), timeout=5) as sock:
        sock.sendall(
            b"POST /skaha/v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + local_server.token.encode()
            + b"\r\nContent-Length: lots\r\n\r\n"
        )
        assert sock.recv(200).startswith(b"HTTP/1.1 400")
    with local_server.client() as c:
        assert c.get("session").status_code == 200
