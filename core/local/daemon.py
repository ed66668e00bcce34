"""Start, find and stop the local server daemon for a state folder (used by the CLI and the TUI).

``ensure_running`` reuses a server that ``server.json`` names when that process is alive, runs this
code (same :func:`~srcnet_tui.core.local.service.software_version`) and answers ``/skaha/availability``. A
daemon left running by other code is stopped first (its sessions are detached processes and the
new server re-adopts them); then ``python -P -m srcnet_tui.core.cli --state-dir X serve-local --port 0`` is started
detached and waited for, with a deadline, until it answers. An flock on ``local/daemon.lock``
serialises this, so two CLIs starting at once never start two daemons. A daemon that lives but
does not answer (stopped, stuck) is named (:func:`hung_server`) and never replaced by a second one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from srcnet_tui.core.backoff import Backoff, wait_until
from srcnet_tui.core.errors import Unreachable, UsageError
from srcnet_tui.core.local import procs
from srcnet_tui.core.local.service import read_server_file, software_version
from srcnet_tui.core.local.store import Store

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LOG_NAME = "server.log"
LOCAL_POLL = Backoff(first_s=0.05, factor=1.0)
"""Waits on this machine (a lock, a process starting or ending) look again every 50 ms until their deadline."""


@dataclass(frozen=True)
class Endpoint:
    url: str  # ends in /skaha/v1
    token: str

    def __repr__(self) -> str:  # never show the token
        return f"Endpoint(url={self.url!r}, token=***)"


def _server_process(info: dict | None) -> psutil.Process | None:
    if not info:
        return None
    try:
        proc = psutil.Process(int(info["pid"]))
        if abs(proc.create_time() - float(info.get("create_time") or proc.create_time())) > 0.05:
            return None
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except (psutil.Error, ValueError, TypeError):
        return None


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """True when the server behind the ``…/skaha/v1`` URL answers its availability check."""
    root = url.rsplit("/v1", 1)[0]
    try:
        response = httpx.get(f"{root}/availability", timeout=timeout_s, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _live_endpoint(store: Store, *, any_version: bool = False) -> Endpoint | None:
    """The endpoint of the live server of this state folder, if it runs this code (or ``any_version``)."""
    info = read_server_file(store.state_dir)
    if info is None or _server_process(info) is None:
        return None
    if not any_version and info.get("version") != software_version():
        return None
    if not answers(info["url"]):
        return None
    try:
        token = store.token_path().read_text().strip()
    except OSError:
        return None
    return Endpoint(info["url"], token)


@contextlib.contextmanager
def _daemon_lock(store: Store, timeout_s: float):
    fd = os.open(store.root / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not wait_until(lambda: _try_lock(fd), LOCAL_POLL.within(timeout_s)):
            raise Unreachable(f"{store.root}: timed out waiting for another process starting the local server")
        yield
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _start_daemon(store: Store) -> subprocess.Popen:
    with open(store.root / LOG_NAME, "ab") as log:
        return subprocess.Popen(
            # -P: the state folder (the cwd) must not come first on sys.path, shadowing installed modules
            [
                sys.executable,
                "-P",
                "-m",
                "srcnet_tui.core.cli",
                "--state-dir",
                str(store.state_dir),
                "serve-local",
                "--port",
                "0",
            ],
            cwd=store.root,
            env=procs.without_credentials(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def _last_log_line(store: Store) -> str:
    try:
        lines = (store.root / LOG_NAME).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].removeprefix("error: ") if lines else ""


def _wait_until_answering(store: Store, proc: subprocess.Popen, timeout_s: float) -> Endpoint:
    endpoint = wait_until(lambda: _started_endpoint(store, proc), LOCAL_POLL.within(timeout_s))
    if endpoint is None:
        raise Unreachable(f"local server did not answer within {timeout_s:.0f} s (log: {store.root / LOG_NAME})")
    return endpoint


def _started_endpoint(store: Store, proc: subprocess.Popen) -> Endpoint | None:
    """The endpoint once the daemon ``proc`` answers; None while it is starting; an error once it has exited."""
    code = proc.poll()
    if code is not None:
        why = _last_log_line(store) or f"exit status {code}"
        if code == UsageError.exit_code:
            raise UsageError(why)
        raise Unreachable(f"local server did not start: {why} (log: {store.root / LOG_NAME})")
    info = read_server_file(store.state_dir)
    if info and info.get("pid") == proc.pid:
        return _live_endpoint(store, any_version=True)
    return None


def ensure_running(state_dir: Path, timeout_s: float = START_TIMEOUT_S) -> Endpoint:
    """The endpoint of the local server for ``state_dir``, starting the daemon when none answers.

    Also leaves this client's PATH for the sessions it will launch, so that a tool installed after
    the daemon started (SoFiA-2, say) is found without restarting it."""
    store = Store(Path(state_dir))
    store.prepare()
    store.remember_client_path(os.environ.get("PATH", ""))
    endpoint = _live_endpoint(store)  # the common case needs no lock
    if endpoint is not None:
        return endpoint
    with _daemon_lock(store, timeout_s):
        hung = hung_server(store.state_dir)  # under the lock: no other client is starting one right now
        if hung is not None:
            raise Unreachable(hung)
        endpoint = _live_endpoint(store)
        if endpoint is not None:
            return endpoint
        _stop_outdated(store)
        return _wait_until_answering(store, _start_daemon(store), timeout_s)


def hung_server(state_dir: Path) -> str | None:
    """One line naming the local server of ``state_dir`` when its daemon process lives but does not answer
    (stopped by SIGSTOP, or stuck); None when it answers or is gone. A second daemon is never started
    beside such a one: it could not take over the sessions, and every retry would start another."""
    info = read_server_file(Path(state_dir))
    proc = _server_process(info)
    if info is None or proc is None or answers(info["url"]):
        return None
    return f"local server (pid {proc.pid}) is not answering — it may be hung/stopped"


def _stop_outdated(store: Store) -> None:
    """Stop a live daemon that announced another software version (an upgrade left it running)."""
    info = read_server_file(store.state_dir)
    if info is not None and _server_process(info) is not None and info.get("version") != software_version():
        stop(store.state_dir)


def stop(state_dir: Path, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the daemon serving ``state_dir`` (its sessions keep running); False when none was running."""
    proc = _server_process(read_server_file(Path(state_dir)))
    if proc is None:
        return False
    proc.send_signal(signal.SIGTERM)
    if not _wait_gone(proc, timeout_s):
        proc.kill()
        _wait_gone(proc, timeout_s)
    return True


def _wait_gone(proc: psutil.Process, timeout_s: float) -> bool:
    """Wait until the process has exited (a zombie counts: its reaping is its parent's business)."""
    return wait_until(lambda: _is_gone(proc), LOCAL_POLL.within(timeout_s))


def _is_gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
