"""A local server that lives but does not answer (SIGSTOP) is named, and no second daemon is started beside it."""

from __future__ import annotations

import json
import os
import signal

import psutil


def serve_local_processes(state_dir) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "serve-local" in cmdline and str(state_dir) in cmdline:
            found.append(proc.pid)
    return found


def test_a_stopped_local_server_is_exit_4_naming_it_and_is_never_doubled(local_server, cli, state_dir):
    os.kill(local_server.proc.pid, signal.SIGSTOP)
    try:
        result = cli("--backend", "local", "sessions", timeout=30)
        running = serve_local_processes(state_dir)
    finally:
        os.kill(local_server.proc.pid, signal.SIGCONT)
    line = f"error: local server (pid {local_server.proc.pid}) is not answering — it may be hung/stopped"
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1] == line
    assert running == [local_server.proc.pid]
    assert json.loads((state_dir / "local" / "server.json").read_text())["pid"] == local_server.proc.pid
    assert cli("--backend", "local", "sessions").returncode == 0  # answered again once resumed
