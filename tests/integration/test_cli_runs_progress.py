"""The run commands as people expect them: live progress on a terminal, plain lines in a pipe, and
Ctrl-C that stops at once with the resume hint. A real CLI process on a real local server, in a
real pseudo-terminal where a terminal is the subject."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest
from conftest import wait_for
from runs_workspace import start_workspace

from srcnet_tui.core.cli.runs import RunTally
from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.ledger import Ledger, TaskRecord
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A CLI process whose stdout and stderr are a pseudo-terminal, 100 columns wide."""

    def __init__(self, args: list[str], env: dict, cwd):
        self.master, replica = pty.openpty()
        env = {**env, "COLUMNS": "100", "LINES": "30", "TERM": "xterm-256color"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "srcnet_tui.core.cli", *args], stdin=replica, stdout=replica, stderr=replica, env=env, cwd=cwd
        )
        os.close(replica)
        self.output = ""

    def read(self) -> str:
        """Everything written so far, without colours and cursor moves."""
        while self.master >= 0 and select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            self.output += chunk.decode(errors="replace")
        return ANSI.sub("", self.output)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read()
            time.sleep(0.02)
        self.read()
        return self.proc.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.read()
        os.close(self.master)
        self.master = -1


@pytest.fixture
def slow_workspace(tmp_path, state_dir, test_env, local_server_factory):
    config, _ = start_workspace(
        tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5", "4"), sleep_s=30
    )
    return config


@pytest.mark.timeout(60)
def test_a_terminal_shows_live_progress_and_ctrl_c_stops_within_two_seconds_with_the_hint(slow_workspace, test_env, tmp_path):
    terminal = Terminal(["parallel", str(slow_workspace)], test_env, tmp_path)
    try:
        wait_for(lambda: "1 running" in terminal.read() or "2 running" in terminal.read(), timeout_s=40, message="a task running")
        assert re.search(r"run \S+ .*\d/2 .*pending, \d running, 0 done, 0 failed\s+\d:\d\d:\d\d", terminal.read())

        interrupted = time.monotonic()
        terminal.proc.send_signal(signal.SIGINT)
        wait_for(lambda: "Finish it with" in terminal.read(), timeout_s=10, interval_s=0.01, message="the resume hint")
        stopped_in = time.monotonic() - interrupted  # the run is cancelled and the bar closed before the hint
        code = terminal.wait(timeout=10)
    finally:
        terminal.close()

    output = terminal.read()
    run_id = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4}): 2 task", output).group(1)
    assert code == 130 and stopped_in < 2.0
    assert re.search(r"uploads .*?(\d+)/\1 files\s+\d+(\.\d)? [kM]?B", output), (
        "the uploads bar ends with every file and its bytes"
    )
    assert f"Finish it with: srcnet-tui --headless resume {run_id}" in output.replace("\r\n", " ").replace("\n", " ")
    assert "Traceback" not in output


def test_a_pipe_gets_plain_lines_without_a_progress_bar(slow_workspace, test_env, tmp_path, state_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcnet_tui.core.cli", "parallel", str(slow_workspace)],
        cwd=tmp_path,
        env=test_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _launched(state_dir) == 2, timeout_s=40, message="both tasks launched")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 130
    assert "\x1b[" not in err and "\r" not in err  # no cursor moves: a log file stays readable
    assert "pending," not in err and "launched" in err and "resume" in err


def _launched(state_dir) -> int:
    if not L.ledger_path(state_dir).exists():
        return 0
    with Ledger(state_dir) as ledger:
        return sum(run.counts.get(L.LAUNCHED, 0) for run in ledger.runs())


def _task(index: int, state: str) -> TaskRecord:
    outputs = TaskOutputs("/arc/x", "x", "p.txt", "f.log", ())
    spec = TaskSpec(index, f"t-{index}", None, "/arc/a.par", 1, 1, [], outputs, "img:1")
    return TaskRecord("r", index, f"t-{index}", 1, state, None, None, None, None, None, None, spec)


def test_the_tally_of_a_resumed_run_starts_from_its_counts_and_follows_each_change():
    tally = RunTally({L.COMPLETED: 2, L.LAUNCHED: 1, L.PLANNED: 2})
    assert tally.groups() == {"pending": 2, "running": 1, "done": 2, "failed": 0}

    tally.change(_task(4, L.LAUNCHING))
    assert tally.groups() == {"pending": 2, "running": 1, "done": 2, "failed": 0}
    tally.change(_task(4, L.LAUNCHED))
    tally.change(_task(3, L.FAILED))
    assert tally.groups() == {"pending": 1, "running": 1, "done": 2, "failed": 1}
    assert tally.describe() == "1 pending, 1 running, 2 done, 1 failed"


BLOCKING_COPY = """
import asyncio, sys, time
from srcnet_tui.core.cli.runs import drive
async def upload():
    copy = asyncio.to_thread(time.sleep, 30)  # a blocking copy in a worker thread, as staging's uploads are
    print("copying", flush=True)  # asyncio.run handles SIGINT from here on
    await copy
try:
    drive(upload())
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_does_not_wait_for_a_blocking_copy_in_a_worker_thread(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", BLOCKING_COPY], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stdout.readline() == "copying\n"
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        assert time.monotonic() - interrupted < 5.0  # the copy would hold it for 30 s; a loaded machine needs some margin
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
