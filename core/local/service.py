"""Running ``serve-local`` in the foreground: one server per state folder, found through ``server.json``.

The server holds an flock on ``<state_dir>/local/server.lock`` for its whole life (a second server
on the same folder refuses to start), recovers the sessions a previous server left, listens, and then
announces itself in ``server.json`` (pid, create time, host, port, url, software version) for
:mod:`srcnet_tui.core.local.daemon`, which replaces a daemon whose version is not its own. SIGTERM/SIGINT stop
it cleanly; sessions keep running either way.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

import srcnet_tui.core
from srcnet_tui.core import skaha_rules
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.local.context import Capacity
from srcnet_tui.core.local.faults import FaultConfig, Faults
from srcnet_tui.core.local.scheduler import Limits, Scheduler
from srcnet_tui.core.local.server import API, ROOT, LocalSkahaServer
from srcnet_tui.core.local.store import Store, read_json, write_json_atomic

SERVER_FILE = "server.json"
SERVER_LOCK = "server.lock"


@dataclass(frozen=True)
class ServeOptions:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    ttl_s: float = skaha_rules.FINISHED_LISTED_S
    max_runtime_s: float = skaha_rules.HEADLESS_DEADLINE_S
    cores: int | None = None
    ram_gb: float | None = None
    preempt: bool = True
    faults: FaultConfig = field(default_factory=FaultConfig)


@functools.cache
def software_version() -> str:
    """``srcnet_tui.core.__version__`` plus a hash of the local server's sources: tells a daemon started from
    other code (an older checkout, an edited file) apart from one this code would start."""
    digest = hashlib.sha256()
    for source in sorted([*Path(__file__).parent.glob("*.py"), Path(skaha_rules.__file__)]):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return f"{srcnet_tui.core.__version__}+{digest.hexdigest()[:12]}"


def server_file(state_dir: Path) -> Path:
    return Path(state_dir) / "local" / SERVER_FILE


def read_server_file(state_dir: Path) -> dict | None:
    try:
        info = read_json(server_file(state_dir))
    except UsageError:
        return None
    return info if isinstance(info, dict) and {"pid", "url"} <= info.keys() else None


def _hold_server_lock(store: Store) -> int:
    path = store.root / SERVER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        other = read_server_file(store.state_dir) or {}
        where = f" at {other['url']} (pid {other['pid']})" if other else ""
        raise UsageError(f"{store.root}: another local server is already running for this state folder{where}") from None
    return fd


def serve(options: ServeOptions, announce=lambda message: print(message, file=sys.stderr, flush=True)) -> int:
    """Run the local server until SIGTERM/SIGINT; return the exit status."""
    store = Store(options.state_dir)
    store.prepare()
    lock_fd = _hold_server_lock(store)
    token = store.load_or_create_token(options.token)
    capacity = Capacity.of_this_machine(options.cores, options.ram_gb)
    limits = Limits(capacity, ttl_s=options.ttl_s, max_runtime_s=options.max_runtime_s, preempt=options.preempt)
    scheduler = Scheduler(store, limits)
    scheduler.recover()
    try:
        httpd = LocalSkahaServer((options.host, options.port), scheduler, token, Faults(options.faults), capacity)
    except OSError as exc:
        raise UsageError(f"serve-local: cannot listen on {options.host}:{options.port} ({exc.strerror})") from None
    scheduler.start()
    info = _announce_file(store, httpd)
    if not ipaddress.ip_address(httpd.host).is_loopback:
        announce(
            f"serve-local: warning: listening on {options.host}, reachable beyond this machine (bearer token still required)"
        )
    announce(f"serve-local: Skaha v1 at {info['url']} ({len(scheduler.snapshot())} sessions; token in {store.token_path()})")
    _stop_on_signals(httpd)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        scheduler.stop()
        if (read_server_file(store.state_dir) or {}).get("pid") == os.getpid():
            server_file(store.state_dir).unlink(missing_ok=True)
        os.close(lock_fd)
    return 0


def _announce_file(store: Store, httpd: LocalSkahaServer) -> dict:
    host, port = httpd.server_address[:2]
    info = {
        "pid": os.getpid(),
        "create_time": psutil.Process().create_time(),
        "host": host,
        "port": port,
        "url": httpd.base_url + API.removeprefix(ROOT),
        "started": time.time(),
        "version": software_version(),
    }
    write_json_atomic(server_file(store.state_dir), info)
    return info


def _stop_on_signals(httpd: LocalSkahaServer) -> None:
    def stop(_signum, _frame):
        # shutdown() blocks until serve_forever returns, so it must not run on the serving thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s serve-local %(levelname)s %(message)s")
