"""The session commands stay quiet and exact when the platform answers 503s and drops connections."""

import json

from test_cli_sessions import IMAGE, counting_script


def test_launch_follow_and_wait_through_faults(local_server_factory, cli, tmp_path):
    server = local_server_factory(fault_503_rate=0.2, fault_drop_rate=0.05)

    def run(*args):
        result = cli("--backend", "local", "--state-dir", str(server.state_dir), *args)
        assert result.returncode == 0, result.stderr
        # Retry notices (a slow machine makes them) may name the transport error; nothing else may.
        problems = [line for line in result.stderr.splitlines() if "error" in line.lower() and "; retrying (" not in line]
        assert problems == []
        return result

    ids = run(
        "launch", "--name", "flaky", "--image", IMAGE, "--cores", "1", "--ram", "1", "--replicas", "10", "--", "true"
    ).stdout.split()
    assert len(set(ids)) == 10
    (counter,) = run(
        "launch",
        "--name",
        "counter",
        "--image",
        IMAGE,
        "--cores",
        "1",
        "--ram",
        "1",
        "--",
        "python",
        counting_script(tmp_path, 10, 0.1),
    ).stdout.split()
    assert run("logs", counter, "--follow").stdout.splitlines() == [f"line {i}" for i in range(10)]
    run("wait", *ids, counter, "--timeout", "60")
    names = sorted(s["name"] for s in json.loads(run("sessions", "--all", "--json").stdout))
    assert names == sorted(["counter"] + [f"flaky-{i}" for i in range(1, 11)])
