"""The session commands, each run as its own CLI process against a real local server over loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from srcnet_tui.core.skaha import SyncSkaha

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def status_of(local_server):
    """Read a session's status in-process (cheaper than a CLI process when only polling)."""
    with SyncSkaha(local_server.url, token=local_server.token) as client:
        yield lambda session_id: client.get(session_id).status


@pytest.fixture
def run(local_server, cli):
    """Run one CLI command against the test's local server (reused, never started anew)."""

    def invoke(*args, env=None):
        return cli("--backend", "local", "--state-dir", str(local_server.state_dir), *args, env=env)

    return invoke


def ok(result) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


def launch(run, name, *workload, options=()) -> list[str]:
    result = ok(run("launch", "--name", name, "--image", IMAGE, "--cores", "1", "--ram", "1", *options, "--", *workload))
    return result.stdout.split()


def listed(run, all_=True) -> dict[str, dict]:
    result = ok(run("sessions", "--json", *(["--all"] if all_ else [])))
    return {s["id"]: s for s in json.loads(result.stdout)}


def poll(condition, timeout=20.0, every=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def processes_of(session_id: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("skaha_sessionid") == session_id:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def counting_script(tmp_path: Path, lines: int, pause_s: float) -> str:
    script = tmp_path / "count.py"
    script.write_text(f"import time\nfor i in range({lines}):\n    print(f'line {{i}}', flush=True)\n    time.sleep({pause_s})\n")
    return str(script)


def test_one_session_across_many_cli_processes(run, tmp_path):
    """Launched by one process, listed, followed, waited for and deleted by others."""
    (session_id,) = launch(run, "Follow-Me", "python", counting_script(tmp_path, 12, 0.25))
    # the launching process has exited; the session lives on
    assert listed(run, all_=False)[session_id]["name"] == "follow-me"

    follow = run("logs", session_id, "--follow")
    assert follow.returncode == 0, follow.stderr
    assert follow.stdout.splitlines() == [f"line {i}" for i in range(12)]

    waited = run("wait", session_id, "--timeout", "30")
    assert waited.returncode == 0 and "Completed" in waited.stdout
    info = json.loads(ok(run("info", session_id, "--json")).stdout)
    assert info["status"] == "Completed" and info["id"] == session_id
    assert ok(run("logs", session_id)).stdout.splitlines()[-1] == "line 11"

    assert ok(run("delete", session_id, "--yes")).stdout.strip() == f"deleted {session_id}"
    assert session_id not in listed(run)


def test_sessions_json_uses_skaha_field_names(run):
    (session_id,) = launch(run, "fields", "sleep", "30")
    entry = listed(run)[session_id]
    for key in (
        "id",
        "name",
        "status",
        "type",
        "image",
        "startTime",
        "requestedCPUCores",
        "requestedRAM",
        "cpuCoresInUse",
        "ramInUse",
    ):
        assert key in entry
    assert entry["type"] == "headless" and entry["image"] == IMAGE and entry["requestedCPUCores"] == 1
    human = ok(run("sessions"))
    assert session_id in human.stdout and "backend: local" in human.stderr
    ok(run("delete", session_id, "--yes"))


def test_delete_ends_the_whole_process_tree(run, status_of):
    (session_id,) = launch(run, "sleeper", "sleep", "300")
    poll(lambda: status_of(session_id) == "Running")
    assert processes_of(session_id)
    ok(run("renew", session_id))
    ok(run("delete", session_id, "--yes"))
    poll(lambda: not processes_of(session_id))


def test_wait_reports_failure_timeout_and_vanishing(run, cli, local_server):
    (good,) = launch(run, "good", "true")
    (bad,) = launch(run, "bad", "false")
    mixed = run("wait", good, bad, "--timeout", "30")
    assert mixed.returncode == 1
    assert f"{good} Completed" in mixed.stdout and f"{bad} Failed" in mixed.stdout

    (slow,) = launch(run, "slow", "sleep", "300")
    started = time.monotonic()
    timed_out = run("wait", slow, "--timeout", "2.2")
    assert time.monotonic() - started >= 2.2  # waited the whole time given, not giving up at its last poll
    assert timed_out.returncode == 1 and slow in timed_out.stderr
    assert f"error: wait: timed out after 2.2 s; not finished: {slow}" in timed_out.stderr.splitlines()

    waiter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "srcnet_tui.core.cli",
            "--backend",
            "local",
            "--state-dir",
            str(local_server.state_dir),
            "wait",
            slow,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while "waiting for" not in waiter.stderr.readline():  # the waiter has seen the session
            pass
        ok(run("delete", slow, "--yes"))
        out, err = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 1, err
    assert slow in err or slow in out


def test_replicas_are_named_and_numbered_like_canfar(run):
    ids = launch(run, "rep", "printenv", "REPLICA_ID", "REPLICA_COUNT", options=("--replicas", "3"))
    assert len(ids) == 3
    ok(run("wait", *ids, "--timeout", "30"))
    sessions = listed(run)
    assert sorted(sessions[i]["name"] for i in ids) == ["rep-1", "rep-2", "rep-3"]
    for session_id in ids:
        replica = sessions[session_id]["name"].rsplit("-", 1)[1]
        assert ok(run("logs", session_id)).stdout.split() == [replica, "3"]


def test_events_stats_images_context(run, status_of):
    (session_id,) = launch(run, "ev", "sleep", "30")
    poll(lambda: status_of(session_id) == "Running")
    events = json.loads(ok(run("events", session_id, "--json")).stdout)
    assert isinstance(events, list) and all(set(e) >= {"type", "reason", "message"} for e in events)
    ok(run("events", session_id))
    for command in ("stats", "images", "context"):
        assert json.loads(ok(run(command, "--json")).stdout)
        human = ok(run(command))
        assert human.stdout.strip() and "backend: local" in human.stderr
    images = json.loads(ok(run("images", "--json")).stdout)
    assert any(image["id"] == IMAGE for image in images)
    ok(run("delete", session_id, "--yes"))


BAD_INPUTS = [
    (("info", "nosuch01"), 2, "nosuch01"),
    (("logs", "nosuch01", "--follow"), 2, "nosuch01"),
    (("wait", "nosuch01"), 2, "nosuch01"),
    (("delete", "nosuch01", "--yes"), 2, "nosuch01"),
    (("launch", "--name", "bad_name", "--image", IMAGE, "--", "true"), 2, "name"),
    (("launch", "--name", "x", "--image", "docker.io/library/python:3", "--", "true"), 2, "image"),
    (("launch", "--name", "x", "--image", IMAGE, "--cores", "999", "--", "true"), 2, "cores"),
    (("launch", "--name", "x", "--image", IMAGE, "--env", "NOEQUALS", "--", "true"), 2, "NOEQUALS"),
    (("launch", "--name", "x", "--image", IMAGE, "--env", "A=b=c", "--", "true"), 2, "env A"),
    (("launch", "--name", "x", "--image", IMAGE, "--", "echo", "two words"), 2, "args[0]"),
    (("launch", "--name", "x", "--image", IMAGE, "--cores", "0", "--", "true"), 2, "cores"),
    (("launch", "--name", "x", "--image", IMAGE, "--replicas", "3", "--ram", "100000", "--", "true"), 2, "ram"),
]


def test_bad_input_is_one_line_and_creates_nothing(run):
    for args, code, needle in BAD_INPUTS:
        result = run(*args)
        assert result.returncode == code, (args, result.stderr)
        errors = [line for line in result.stderr.splitlines() if not line.startswith("backend:")]
        assert len(errors) == 1 and needle in errors[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert listed(run) == {}


def test_delete_without_a_terminal_needs_yes(run):
    (session_id,) = launch(run, "keep", "sleep", "30")
    refused = run("delete", session_id)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert session_id in listed(run)
    ok(run("delete", session_id, "--yes"))


def test_missing_credential_is_exit_3_and_silence_is_exit_4(cli, tmp_path):
    refused = cli("--url", "http://127.0.0.1:9/skaha/v1", "--cert", str(tmp_path / "none.pem"), "sessions")
    assert refused.returncode == 3
    assert refused.stderr.splitlines() == [f"error: {tmp_path / 'none.pem'}: proxy certificate not found (run cadc-get-cert)"]
    unreachable = cli(
        "--backend",
        "canfar",
        "--url",
        "http://127.0.0.1:9/skaha/v1",
        "--token",
        "t",
        "sessions",
        env={"SRCNET_RETRY_TOTAL_S": "1"},
    )
    assert unreachable.returncode == 4 and "127.0.0.1:9" in unreachable.stderr
    assert "backend: canfar" in unreachable.stderr


def test_a_refused_token_is_exit_3(local_server, cli):
    result = cli("--backend", "canfar", "--url", local_server.url, "--token", "wrong-token", "sessions")
    assert result.returncode == 3, result.stderr


def _delete_on_a_terminal(local_server, test_env, answer, *delete_args):
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "srcnet_tui.core.cli",
                "--backend",
                "local",
                "--state-dir",
                str(local_server.state_dir),
                "delete",
                *delete_args,
            ],
            cwd=ROOT,
            env=test_env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(master, answer.encode())
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, out, err


def test_delete_asks_on_a_terminal(run, local_server, test_env):
    (session_id,) = launch(run, "asked", "sleep", "30")
    code, out, err = _delete_on_a_terminal(local_server, test_env, "n\n", session_id)
    assert code == 0 and "[y/N]" in err and "nothing deleted" in err
    assert session_id in listed(run)
    code, out, err = _delete_on_a_terminal(local_server, test_env, "y\n", session_id)
    assert code == 0 and out.strip() == f"deleted {session_id}"
    assert session_id not in listed(run)


def test_bulk_delete_lists_what_matches_and_asks(run, local_server, test_env, status_of):
    (done,) = launch(run, "sweep-done", "true")
    poll(lambda: status_of(done) == "Completed")
    sweep = launch(run, "sweep", "sleep", "30", options=("--replicas", "3"))  # some stay Pending on a small machine
    (other,) = launch(run, "other", "sleep", "30")
    refused = run("delete", "--name-prefix", "sweep")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].endswith("add --yes to delete without asking")
    assert set(sweep) <= set(listed(run))

    code, out, err = _delete_on_a_terminal(local_server, test_env, "n\n", "--pattern", "^sweep-[12]$")
    assert code == 0 and "Delete 2 session(s)" in err and "nothing deleted" in err and out == ""
    assert all(session_id in err for session_id in sweep[:2]) and sweep[2] not in err

    by_status = ok(run("delete", "--name-prefix", "SWEEP", "--status", "completed", "--yes"))
    assert by_status.stdout.split() == ["deleted", done]
    rest = ok(run("delete", "--name-prefix", "sweep", "--status", "Running,Pending", "--yes"))
    assert sorted(rest.stdout.split()[1::2]) == sorted(sweep)
    assert set(listed(run)) == {other}
    assert "no session matches" in ok(run("delete", "--pattern", "nothing-like-this", "--yes")).stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--pattern", "(unclosed"), "--pattern '(unclosed': not a regular expression"),
        (("--status", "Done"), "--status 'Done': must be one of Pending, Running, Completed, Failed, Terminating"),
        (("abc12345", "--name-prefix", "x"), "give session ids, or choose sessions with --name-prefix"),
        ((), "give session ids, or choose sessions with --name-prefix"),
    ],
)
def test_bulk_delete_refuses_bad_selections_in_one_line(cli, args, message):
    result = cli("--backend", "local", "delete", *args, "--yes")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr


def test_renew_of_a_finished_session_says_so_in_our_words(run, status_of):
    (session_id,) = launch(run, "brief", "true")
    poll(lambda: status_of(session_id) == "Completed")
    result = run("renew", session_id)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("backend:")]
    assert errors == [
        f"error: session {session_id}: already Completed, so there is nothing to renew (only a Running session can be)"
    ]
    assert "No active job" not in result.stderr


def test_a_pending_session_says_why_it_waits(local_server_factory, cli):
    server = local_server_factory(cores=2)

    def run(*args):
        return cli("--backend", "local", "--state-dir", str(server.state_dir), *args, env={"COLUMNS": "200"})

    (holder,) = launch(run, "holder", "sleep", "300", options=("--cores", "2"))
    (queued,) = launch(run, "queued", "true", options=("--cores", "2"))
    reason = "queued: needs 2 cores, 0 of 2 free (client's estimate)"
    assert listed(run)[queued]["pendingReason"] == reason
    assert "pendingReason" not in listed(run)[holder]
    assert json.loads(ok(run("info", queued, "--json")).stdout)["pendingReason"] == reason
    assert f"{queued} (queued) Pending: {reason}" in ok(run("sessions")).stdout
    ok(run("delete", holder, "--yes"))


def test_a_pending_session_has_no_events_yet_and_its_follow_waits(local_server_factory, cli):
    server = local_server_factory(cores=1)

    def run(*args):
        return cli("--backend", "local", "--state-dir", str(server.state_dir), *args)

    (holder,) = launch(run, "holder", "sleep", "300")
    (queued,) = launch(run, "queued", "echo", "finally")
    assert listed(run)[queued]["status"] == "Pending"
    events = run("events", queued)
    assert events.returncode == 0 and "no events" in events.stderr
    ok(run("delete", holder, "--yes"))
    assert ok(run("logs", queued, "--follow")).stdout == "finally\n"
