"""Operating-system side of local sessions: start the shim detached, tell live from gone, end whole trees.

A session process is identified by (pid, create_time), so a recycled pid is never mistaken for a
session. Trees are ended by process group *and* by walking psutil descendants (the shim is a child
subreaper, so orphans stay below it), and, as a last resort, by the environment marker every session
process inherits (``skaha_sessionid`` plus ``SRCNET_ARC_ROOT``) for processes that escaped both.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

# The shim runs isolated (-I: no script dir or user site on sys.path, no PYTHON* variables) and
# without site (-S): it is standard library only, and this halves its start-up time.
SHIM_PATH = str(Path(__file__).with_name("shim.py"))


CREDENTIAL_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CERTIFICATE")


def without_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus anything that looks like a credential.

    The daemon is started by whichever client came first, and sessions inherit the daemon's
    environment; a CANFAR token in that client's shell must not reach every session's log.
    """

    def is_credential(name: str) -> bool:
        upper = name.upper()
        return upper.startswith("CANFAR_") or any(marker in upper for marker in CREDENTIAL_MARKERS)

    return {name: value for name, value in environ.items() if not is_credential(name)}


def spawn_shim(
    meta_dir: Path, workdir: Path, command: list[str], env: dict[str, str], lock_path: Path
) -> tuple[subprocess.Popen, float]:
    """Start ``command`` under the shim as a detached process; return the Popen and its create time.

    The shim inherits an flock held on ``lock_path`` from before the fork, so from the first instant
    of its life a restarted server can see it is alive.
    """
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", SHIM_PATH, str(meta_dir), "--", *command],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(lock_fd,),
        )
    finally:
        os.close(lock_fd)
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    return proc, created


def shim_holds_lock(lock_path: Path) -> bool:
    """True while a shim for this session is alive (it holds the flock until it exits)."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def process_if_alive(pid: int | None, create_time: float | None) -> psutil.Process | None:
    """The process with this pid and creation time, if it still runs (zombies count as gone)."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if create_time and abs(proc.create_time() - create_time) > 0.05:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def create_time_of(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_largest(root: psutil.Process) -> None:
    """SIGKILL the process of ``root``'s tree with the largest RSS, as the kernel's OOM killer picks
    its victim: its parent (a recorder, say) lives on to see it killed and to say so."""
    sizes = []
    for proc in tree(root):
        try:
            sizes.append((proc.memory_info().rss, proc.pid, proc))
        except psutil.Error:
            continue
    if sizes:
        try:
            max(sizes, key=lambda size: size[:2])[2].kill()
        except psutil.Error:
            pass


def wait_gone(proc: psutil.Process, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for ``proc`` to exit (reaping it when it is our child)."""
    psutil.wait_procs([proc], timeout=timeout_s)


def marked_processes(arc_root: Path, session_id: str | None = None) -> dict[str, list[psutil.Process]]:
    """Live processes carrying a session marker of this state folder (``skaha_sessionid`` and
    ``SRCNET_ARC_ROOT``), by session id, wherever they are in the process table."""
    found: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            env = proc.environ()
        except psutil.Error:
            continue
        owner = env.get("skaha_sessionid")
        if owner and env.get("SRCNET_ARC_ROOT") == str(arc_root) and session_id in (None, owner):
            found.setdefault(owner, []).append(proc)
    return found


def _signal_all(procs: list[psutil.Process], pgid: int | None, sig: int) -> None:
    if pgid:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


def end_tree(root: psutil.Process | None, extra: Sequence[psutil.Process] = (), grace_s: float = 2.0) -> None:
    """SIGTERM a session's whole tree, then SIGKILL what is left after ``grace_s``; wait until all are gone."""
    procs = {p.pid: p for p in ([*tree(root)] if root else []) + list(extra)}
    pgid = None
    if root is not None:
        try:
            pgid = os.getpgid(root.pid)
        except ProcessLookupError:
            pgid = None
        if pgid in (os.getpgid(0),):
            pgid = None  # never signal our own group
    _signal_all(list(procs.values()), pgid, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(list(procs.values()), timeout=grace_s)
    deadline = time.monotonic() + 5.0
    while True:
        # Re-walk: anything spawned meanwhile is still below the (subreaper) shim while it lives.
        for proc in alive:
            procs.update({p.pid: p for p in tree(proc)})
        alive = [p for p in procs.values() if _running(p)]
        if not alive and not _group_alive(pgid):
            return
        _signal_all(alive, pgid, signal.SIGKILL)
        _gone, alive = psutil.wait_procs(alive, timeout=0.5)
        if time.monotonic() > deadline:
            return


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _group_alive(pgid: int | None) -> bool:
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return any(_in_group(p, pgid) for p in psutil.process_iter())


def _in_group(proc: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


class UsageSampler:
    """CPU (cores) and RSS (bytes) of a session's process tree, from psutil counters kept between calls."""

    def __init__(self):
        self._procs: dict[int, psutil.Process] = {}

    def sample(self, root: psutil.Process) -> tuple[float, int]:
        cpu, rss = 0.0, 0
        current = {}
        for proc in tree(root):
            try:
                known = self._procs.get(proc.pid)
                if known is not None and known.create_time() == proc.create_time():
                    proc = known  # keeps the previous CPU-times reading, so cpu_percent measures since then
                current[proc.pid] = proc
                with proc.oneshot():
                    cpu += proc.cpu_percent(None) / 100.0
                    rss += proc.memory_info().rss
            except psutil.Error:
                continue
        self._procs = current
        return cpu, rss
