"""The tiny parent of every local session: runs the command, captures its output, records how it ended.

The local server starts ``python -I -S .../shim.py META_DIR -- CMD ARG ...`` as a detached process
(new session, no shell). The shim

* records its pid in ``META_DIR/shim.json`` and keeps the inherited ``META_DIR/lock`` flock held for
  its whole life, so a restarted server can tell a live session from a lost one;
* becomes a child subreaper, so processes the command leaves behind stay in its tree (a delete
  finds and ends them all);
* runs the command with stdout and stderr appended to ``META_DIR/output.log``;
* when the command ends, ends whatever it left running (like a container whose main process
  exits), then writes ``META_DIR/exit.json`` atomically: the server, even one restarted in between,
  learns the exit status from that file.

Standard library only: it must start fast and never depend on the server being alive.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import BinaryIO

PR_SET_CHILD_SUBREAPER = 36
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126


def _write_json_atomic(path: str, obj: dict) -> None:
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".exit.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: orphans are still found by the server's process-group kill


def _descendants(root: int) -> list[int]:
    """Pids below ``root`` (Linux /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _end_leftovers(grace_s: float = 1.0) -> None:
    """End processes the command left behind, then reap them (we are their subreaper)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _descendants(os.getpid()) if os.path.isdir("/proc") else []
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while pids and time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    time.sleep(0.02)
            except ChildProcessError:
                break
        if not pids:
            break
    _reap_all()


def _reap_all() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                return
        except ChildProcessError:
            return


def _wait_for(child: subprocess.Popen) -> int:
    """Wait for the main child, reaping adopted orphans as they exit; return a shell-style status."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return child.returncode if child.returncode is not None else 1
        except InterruptedError:
            continue
        if pid == child.pid:
            return os.waitstatus_to_exitcode(status)


def _forward_signals_to(child: subprocess.Popen) -> None:
    def forward(signum, _frame):
        # os.kill, not Popen.send_signal: that polls, and could reap the child behind _wait_for's back.
        # The pid cannot be reused before we reap it.
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)


def run(meta_dir: str, command: list[str]) -> int:
    _write_json_atomic(os.path.join(meta_dir, "shim.json"), {"pid": os.getpid(), "started": time.time()})
    _become_subreaper()
    with open(os.path.join(meta_dir, "output.log"), "ab", buffering=0) as log:
        code = _run_logged(command, log)
    exit_code = code if code >= 0 else 128 - code
    signal_number = -code if code < 0 else None
    _write_json_atomic(
        os.path.join(meta_dir, "exit.json"),
        {"exit_code": exit_code, "signal": signal_number, "finished": time.time()},
    )
    return 0


def _run_logged(command: list[str], log: BinaryIO) -> int:
    """Run ``command`` with its output in ``log``; its exit status (negative: killed by that signal)."""
    try:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    except FileNotFoundError:
        log.write(f"exec: {command[0]!r}: no such file or directory\n".encode())
        return EXIT_NOT_FOUND
    except OSError as exc:
        log.write(f"exec: {command[0]!r}: {exc.strerror or exc}\n".encode())
        return EXIT_NOT_EXECUTABLE
    _forward_signals_to(child)
    code = _wait_for(child)
    _end_leftovers()
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: shim.py META_DIR -- CMD [ARG ...]", file=sys.stderr)
        return 2
    return run(argv[0], argv[2:])


if __name__ == "__main__":
    sys.exit(main())
