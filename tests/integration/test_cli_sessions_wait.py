"""``wait`` shows its sessions by status and the time waited: live on a terminal, plain lines in a pipe."""

from __future__ import annotations

import re

from conftest import wait_for
from test_cli_runs_progress import Terminal

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"


def launched(cli, server, *workload) -> list[str]:
    where = ("--backend", "local", "--state-dir", str(server.state_dir))
    result = cli(*where, "launch", "--name", "waited", "--image", IMAGE, "--cores", "1", "--ram", "1", "--", *workload)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_pipe_gets_a_plain_line_each_time_the_counts_change(local_server, cli):
    ids = launched(cli, local_server, "sleep", "2")
    result = cli("--backend", "local", "--state-dir", str(local_server.state_dir), "wait", *ids, "--timeout", "20")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("wait: ")]
    assert re.fullmatch(r"wait: 1 (Pending|Running) \(\d+ s\)", lines[0]), result.stderr
    assert re.fullmatch(r"wait: 1 Completed \(\d+ s\)", lines[-1]) and len(lines) == len(set(lines))
    assert "\x1b[" not in result.stderr


def test_a_terminal_gets_a_live_line_with_statuses_and_elapsed_time(local_server, cli, test_env, tmp_path):
    ids = launched(cli, local_server, "sleep", "30")
    where = ["--backend", "local", "--state-dir", str(local_server.state_dir)]
    terminal = Terminal([*where, "wait", *ids, "--timeout", "20"], test_env, tmp_path)
    try:
        wait_for(
            lambda: re.search(r"wait .*0/1 +1 Running +\d:\d\d:\d\d", terminal.read()), timeout_s=15, message="the live line"
        )
    finally:
        terminal.close()
    assert "wait: 1 Running (" not in terminal.read()  # the live line, not the plain one
