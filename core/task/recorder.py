"""Profile a command the way psrecord does, without losing its exit status or its CPU time.

psrecord runs the workload through a shell, always exits 0 and drops the CPU a child used after
its last sample. This recorder starts the command without a shell in its own process group,
samples the whole process tree every interval and writes psrecord's CSV columns and units
(``cpu`` = percent of one core summed over the tree, memory in MiB, cumulative I/O counters), one
flushed row per sample so a killed run still leaves a readable log. CPU is taken from cumulative
kernel counters (own time plus the time of reaped children), so the integral of the ``cpu``
column equals the CPU time the tree used, short-lived children included. At the end it writes a
summary JSON beside the log (exit status, rusage from ``wait4``, wall time, the cores the
session was given) and exits with the command's status.

This module depends only on the standard library and psutil: the task container carries it
alone (``python -m srcnet_tui.core.task.recorder --log FILE -- CMD ...``).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import psutil

CSV_COLUMNS = (
    "elapsed_time",
    "nproc",
    "cpu",
    "mem_real",
    "mem_virtual",
    "read_count",
    "write_count",
    "read_bytes",
    "write_bytes",
)
SUMMARY_FORMAT = "srcnet-recorder-summary/1"
SUMMARY_SUFFIX = ".summary.json"
DEFAULT_INTERVAL_S = 1.0
MIN_INTERVAL_S = 0.1  # below this the recorder's own sampling dominates and 10 ms CPU ticks swamp each row
MAX_INTERVAL_S = 3600.0
DEFAULT_GRACE_S = 10.0
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
MIB = 1024.0**2
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def summary_path(log_path) -> Path:
    """Where the summary of the recording logged at ``log_path`` lives (beside it)."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.name + SUMMARY_SUFFIX)


IoCounters = tuple[int, int, int, int]  # read_count, write_count, read_bytes, write_bytes
SignalHandler = Callable[[int, FrameType | None], Any] | int | None


@dataclass(frozen=True)
class TreeSample:
    """One look at the process tree: live process count, cumulative CPU seconds, memory, I/O."""

    nproc: int
    cpu_s: float
    rss: int
    vms: int
    io: IoCounters


@dataclass(frozen=True)
class _WrittenRow:
    """Where the latest row starts in the log, what it measured, and the (elapsed, CPU) it was measured from."""

    offset: int
    rss: int
    vms: int
    since: tuple[float, float]


class ProcTree:
    """The descendants of one process, measured through Linux /proc.

    Each sample lists /proc once, reads ``stat`` only of tree members and of pids not seen before,
    and remembers the pids known to be outside the tree, so the cost follows the tree's size rather
    than the machine's. Members are identified by pid and start time, so a reused pid is not
    mistaken for a member.
    """

    _TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    _PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self, ancestor: int):
        self.ancestor = ancestor
        self.members: dict[int, int] = {}
        self.outsiders: set[int] = {ancestor}
        self.io_last: dict[int, IoCounters] = {}
        self.io_retired: IoCounters = (0, 0, 0, 0)

    @staticmethod
    def available() -> bool:
        return os.path.exists("/proc/self/stat")

    def pids(self) -> list[int]:
        return list(self.members)

    def sample(self) -> TreeSample:
        live = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        self.outsiders &= live
        self.outsiders.add(self.ancestor)
        measured, fresh = self._read(live - self.outsiders)
        measured.extend(self._classify(fresh))
        return self._measure(measured)

    def _read(self, candidates: set[int]):
        """Read members oldest first, then new pids: a child reaped by its parent between two
        reads is then missed for one sample at worst, never counted twice."""
        members = sorted((start, pid) for pid, start in self.members.items() if pid in candidates)
        newcomers = sorted(candidates.difference(self.members))
        self.members = {}
        measured, fresh = [], {}
        for known_start, pid in members:
            fields = _stat_fields(pid)
            if fields is not None and int(fields[19]) == known_start:
                self.members[pid] = known_start
                measured.append((pid, fields))
            elif fields is not None:
                fresh[pid] = fields
        for pid in newcomers:
            fields = _stat_fields(pid)
            if fields is not None:
                fresh[pid] = fields
        return measured, fresh

    def _classify(self, fresh: dict[int, list[bytes]]):
        """Adopt new descendants of the tree, remember new outsiders; a pid whose parent could
        not be read stays unclassified until the next sample."""
        children: dict[int, list[int]] = {}
        for pid, fields in fresh.items():
            children.setdefault(int(fields[1]), []).append(pid)
        adopted = [(pid, fresh[pid]) for pid in _descend(children, [self.ancestor, *self.members])]
        for pid, fields in adopted:
            self.members[pid] = int(fields[19])
        self.outsiders.update(_descend(children, [0, *self.outsiders]))
        return adopted

    def _measure(self, measured) -> TreeSample:
        nproc = ticks = rss_pages = vms = 0
        for pid, fields in measured:
            ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            if fields[0] == b"Z":
                continue
            nproc += 1
            vms += int(fields[20])
            rss_pages += int(fields[21])
            self.io_last[pid] = _proc_io(pid)
        return TreeSample(nproc, ticks / self._TICKS, rss_pages * self._PAGE, vms, self._io_total())

    def _io_total(self) -> IoCounters:
        """Cumulative I/O of the tree: live members plus the last counters of those gone."""
        for pid in [pid for pid in self.io_last if pid not in self.members]:
            self.io_retired = _io_sum([self.io_retired, self.io_last.pop(pid)])
        return _io_sum([self.io_retired, *self.io_last.values()])


def _io_sum(counters: Iterable[IoCounters]) -> IoCounters:
    read_count, write_count, read_bytes, write_bytes = (sum(column) for column in zip((0, 0, 0, 0), *counters))
    return read_count, write_count, read_bytes, write_bytes


class PsutilTree:
    """The same measurements through psutil, for systems without Linux /proc (there the I/O of
    processes that have exited drops out of the totals)."""

    def __init__(self, ancestor: int):
        self.ancestor = psutil.Process(ancestor)
        self.members: list[psutil.Process] = []

    def pids(self) -> list[int]:
        return [p.pid for p in self.members]

    def sample(self) -> TreeSample:
        try:
            self.members = self.ancestor.children(recursive=True)
        except psutil.Error:
            self.members = []
        nproc = rss = vms = 0
        cpu_s = 0.0
        io: list[IoCounters] = []
        for proc in self.members:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu_s += times.user + times.system + times.children_user + times.children_system
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        continue
                    memory = proc.memory_info()
                    counters = _psutil_io(proc)
            except psutil.Error:
                continue
            nproc += 1
            rss += memory.rss
            vms += memory.vms
            io.append(counters)
        return TreeSample(nproc, cpu_s, rss, vms, _io_sum(io))


def _descend(children: dict[int, list[int]], roots) -> list[int]:
    """Every pid below ``roots`` in a parent -> children map, consuming the map as it goes."""
    found, stack = [], list(roots)
    while stack:
        for pid in children.pop(stack.pop(), ()):
            found.append(pid)
            stack.append(pid)
    return found


def _stat_fields(pid: int) -> list[bytes] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state, 1 = ppid, ...)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def _proc_io(pid: int) -> IoCounters:
    """(syscr, syscw, read_bytes, write_bytes) of one process: psutil's io_counters fields."""
    try:
        with open(f"/proc/{pid}/io", "rb") as handle:
            values = handle.read().split()[1::2]
        return int(values[2]), int(values[3]), int(values[4]), int(values[5])
    except (OSError, IndexError, ValueError):
        return 0, 0, 0, 0


def _psutil_io(proc: psutil.Process) -> IoCounters:
    try:
        c = proc.io_counters()
    except (psutil.Error, AttributeError, NotImplementedError):
        return 0, 0, 0, 0
    return c.read_count, c.write_count, c.read_bytes, c.write_bytes


def open_tree(ancestor: int) -> ProcTree | PsutilTree:
    """The cheapest tree sampler this system supports."""
    return ProcTree(ancestor) if ProcTree.available() else PsutilTree(ancestor)


# --- cores the session was given ----------------------------------------------------------


def cores_given(proc_root: str = "/proc", cgroup_root: str = "/sys/fs/cgroup", environ=os.environ) -> dict:
    """The CPU limit of this process: cgroup quota (v2 ``cpu.max`` or v1 CFS), OMP_NUM_THREADS.

    ``given`` is the best figure for allocated cores: the cgroup quota when one is set (that is
    what a Kubernetes pod is limited to), else OMP_NUM_THREADS, else None (unknown).
    """
    quota = _cgroup_quota(Path(proc_root) / "self" / "cgroup", Path(cgroup_root))
    omp = _omp_threads(environ.get("OMP_NUM_THREADS", ""))
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    given, source = (quota, "cgroup") if quota else (omp, "OMP_NUM_THREADS") if omp else (None, None)
    return {
        "given": given,
        "source": source,
        "cgroup_quota": quota,
        "omp_num_threads": omp,
        "affinity": affinity,
        "host_cpus": os.cpu_count(),
    }


def _omp_threads(text: str) -> int | None:
    first = text.split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def _cgroup_quota(proc_cgroup: Path, root: Path) -> float | None:
    """Smallest CPU quota (in cores) on the way from this process's cgroup up to the root."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            quotas += [_v2_quota(d / "cpu.max") for d in _ancestors(root, path)]
        elif "cpu" in controllers.split(","):
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                quotas += [_v1_quota(d) for d in _ancestors(mount, path)]
    limits = [q for q in quotas if q]
    return min(limits) if limits else None


def _ancestors(mount: Path, path: str) -> list[Path]:
    parts = [p for p in path.split("/") if p]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v2_quota(cpu_max: Path) -> float | None:
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


# --- the recording ------------------------------------------------------------------------


class Recording:
    """One command under observation: its process, its tree, the log, and the bookkeeping."""

    def __init__(self, command: list[str], log: TextIO, interval: float, grace_s: float):
        self.command = command
        self.log = log
        self.interval = interval
        self.grace_s = grace_s
        self.child: subprocess.Popen | None = None
        self.tree = open_tree(os.getpid())
        self.root_status: int | None = None
        self.root_rusage: resource.struct_rusage | None = None
        self.orphan_rusage = {"user_s": 0.0, "system_s": 0.0, "max_rss_kib": 0}
        self.reaped_cpu_s = 0.0
        self.samples = 0
        self.signalled: int | None = None
        self._unsent: int | None = None
        self.kill_at: float | None = None
        self.stragglers = 0
        self.t0 = time.monotonic()
        self.ended: float | None = None
        self._last = (0.0, 0.0)  # (elapsed, cumulative CPU seconds) at the previous row
        self._previous: _WrittenRow | None = None

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.child = subprocess.Popen(self.command, start_new_session=True)
        if self.signalled is not None:
            self._send(self.signalled)

    def run(self) -> int:
        """Sample until the command ends, then stop its stragglers; returns the shell-style status.

        The last row is sampled while the command is still a zombie, so its CPU comes from the
        same kernel counters as the rows before it; only then is it reaped.
        """
        watch = _ExitWatch(self._started.pid)
        try:
            next_tick = time.monotonic()
            while True:
                exited = self._reap_orphans()
                self._write_row(final=exited)
                self._forward_to_newcomers()
                if exited:
                    break
                next_tick = max(next_tick + self.interval, time.monotonic())
                self._wait_until(next_tick, watch)
        finally:
            watch.close()
        self._reap()
        self._stop_stragglers()
        assert self.root_status is not None, "the command is reaped before run() returns"
        return _shell_status(self.root_status)

    @property
    def _started(self) -> subprocess.Popen:
        """The command's process; asked for only after :meth:`start` succeeded."""
        assert self.child is not None, "the recording has not started"
        return self.child

    @property
    def wall_s(self) -> float:
        return (self.ended or time.monotonic()) - self.t0

    def _wait_until(self, deadline: float, watch: _ExitWatch) -> None:
        """Sleep until the next sample is due or the command exits; SIGKILL when the grace is over."""
        while True:
            now = time.monotonic()
            if self.kill_at is not None and now >= self.kill_at:
                self._send(signal.SIGKILL)
                self.kill_at = now + 1.0
            if now >= deadline:
                return
            wake = deadline if self.kill_at is None else min(deadline, self.kill_at)
            if watch.wait(wake - now):
                return

    def _write_row(self, final: bool = False) -> None:
        """One CSV row: ``cpu`` is the tree's CPU time since the previous row over the time elapsed.

        The cumulative CPU never goes backwards (a child reaped between two reads can make one
        sample miss it), so the ``cpu`` column integrates exactly to the CPU time used. The kernel
        counts CPU in 10 ms ticks, so a row over a few milliseconds can read 200 % for one busy core:
        the row taken when the command exits, sooner than a full interval after the previous one,
        replaces that row and covers both spans (memory: the larger of the two).
        """
        tree = self.tree.sample()
        elapsed = time.monotonic() - self.t0
        cumulative = max(self._last[1], tree.cpu_s + self.reaped_cpu_s)
        rss, vms = tree.rss, tree.vms
        replaced = self._row_to_replace(elapsed) if final else None
        if replaced is not None:
            rss, vms = max(rss, replaced.rss), max(vms, replaced.vms)
            self.log.seek(replaced.offset)
            self.log.truncate()
            self._last = replaced.since
            self.samples -= 1
        span = elapsed - self._last[0]
        cpu = (cumulative - self._last[1]) / span * 100 if self.samples and span > 0 else 0.0
        self._previous = _WrittenRow(self.log.tell() if self.log.seekable() else -1, rss, vms, self._last)
        if self.samples:
            self._last = (elapsed, cumulative)
        row = f"{elapsed:.3f},{tree.nproc},{cpu:.1f},{rss / MIB:.3f},{vms / MIB:.3f}"
        self.log.write(row + "," + ",".join(map(str, tree.io)) + "\n")
        self.log.flush()
        self.samples += 1

    def _row_to_replace(self, elapsed: float) -> _WrittenRow | None:
        """The previous row, if the exit row should replace it: it measured CPU (it is not the first,
        all-zero one), came less than an interval ago, and the log can be rewritten (not a pipe)."""
        previous = self._previous
        if previous is None or previous.offset < 0 or self.samples < 2 or elapsed - self._last[0] >= self.interval:
            return None
        return previous

    def _reap_orphans(self) -> bool:
        """Reap exited adopted orphans; True once the command itself has exited (left unreaped)."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if info is None:
                return False
            if info.si_pid == self._started.pid:
                return True
            self._account(*os.wait4(info.si_pid, 0))

    def _reap(self) -> None:
        """Reap every exited child of ours: the command itself and adopted orphans."""
        while True:
            try:
                reaped = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if reaped[0] == 0:
                return
            self._account(*reaped)

    def _account(self, pid: int, status: int, usage: resource.struct_rusage) -> None:
        self.reaped_cpu_s += usage.ru_utime + usage.ru_stime
        if pid == self._started.pid:
            self.ended = time.monotonic()
            self.root_status, self.root_rusage = status, usage
            self._started.returncode = os.waitstatus_to_exitcode(status)
        else:
            self.orphan_rusage["user_s"] += usage.ru_utime
            self.orphan_rusage["system_s"] += usage.ru_stime
            self.orphan_rusage["max_rss_kib"] = max(self.orphan_rusage["max_rss_kib"], usage.ru_maxrss)

    def forward(self, signum: int, _frame=None) -> None:
        """Signal handler: pass the signal on to the whole tree; SIGKILL what is left after the grace."""
        self.signalled = self._unsent = signum
        self._send(signum)
        if self.kill_at is None:
            self.kill_at = time.monotonic() + self.grace_s

    def _forward_to_newcomers(self) -> None:
        """Send a forwarded signal once more after the next sample: the handler may have run
        while the tree was being re-read, or before processes outside the group were found."""
        if self._unsent is not None:
            signum, self._unsent = self._unsent, None
            self._send(signum)

    def _send(self, signum: int) -> None:
        if self.child is not None and self.root_status is None:
            _quietly(os.killpg, self.child.pid, signum)
        for pid in self.tree.pids():
            _quietly(os.kill, pid, signum)

    def _stop_stragglers(self) -> None:
        """Processes the command left running are stopped: SIGTERM, then SIGKILL after the grace."""
        self.stragglers = self._live_processes()
        if not self.stragglers:
            return
        self._send(signal.SIGTERM)
        kill_at = time.monotonic() + self.grace_s
        while self._live_processes():
            if time.monotonic() >= kill_at:
                self._send(signal.SIGKILL)
            if time.monotonic() >= kill_at + self.grace_s:
                return
            time.sleep(0.02)

    def _live_processes(self) -> int:
        self._reap()
        return self.tree.sample().nproc

    def summary(self, started_epoch: float, status: int, error: str | None) -> dict:
        code = os.waitstatus_to_exitcode(self.root_status) if self.root_status is not None else None
        return {
            "format": SUMMARY_FORMAT,
            "command": self.command,
            "host": socket.gethostname(),
            "interval_s": self.interval,
            "start_utc": _iso(started_epoch),
            "end_utc": _iso(started_epoch + self.wall_s),
            "wall_s": round(self.wall_s, 3),
            "exit_code": code if code is not None and code >= 0 else None,
            "signal": -code if code is not None and code < 0 else None,
            "status": status,
            "error": error,
            "rusage": _rusage_dict(self.root_rusage),
            "rusage_tree": _tree_rusage(self.root_rusage, self.orphan_rusage),
            "cores": cores_given(),
            "samples": self.samples,
            "left_running": self.stragglers,
            "forwarded_signal": self.signalled,
        }


def _quietly(send, pid: int, signum: int) -> None:
    try:
        send(pid, signum)
    except OSError:
        pass


class _ExitWatch:
    """Wait for the command to exit with a timeout, without reaping it (pidfd when available)."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.fd = None

    def wait(self, timeout: float) -> bool:
        if self.fd is not None:
            return bool(select.select([self.fd], [], [], max(timeout, 0))[0])
        end = time.monotonic() + timeout
        while True:
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(min(0.05, max(end - time.monotonic(), 0)))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _set_subreaper(on: bool) -> bool:
    """Make this process adopt orphaned descendants (Linux), so none escapes sampling, accounting
    or a SIGTERM; returns the previous setting."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        previous = ctypes.c_int(0)
        libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)
        return bool(previous.value)
    except (OSError, AttributeError):
        return False


def _shell_status(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return code if code >= 0 else 128 - code


def _maxrss_mib(ru_maxrss: int) -> float:
    return ru_maxrss / MIB if sys.platform == "darwin" else ru_maxrss / 1024.0


def _rusage_dict(usage: resource.struct_rusage | None) -> dict | None:
    if usage is None:
        return None
    return {
        "user_s": round(usage.ru_utime, 6),
        "system_s": round(usage.ru_stime, 6),
        "max_rss_mib": round(_maxrss_mib(usage.ru_maxrss), 3),
    }


def _tree_rusage(root: resource.struct_rusage | None, orphans: dict) -> dict | None:
    if root is None:
        return None
    return {
        "user_s": round(root.ru_utime + orphans["user_s"], 6),
        "system_s": round(root.ru_stime + orphans["system_s"], 6),
        "max_rss_mib": round(_maxrss_mib(max(root.ru_maxrss, orphans["max_rss_kib"])), 3),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _SignalsForwardedTo:
    """Route SIGTERM/SIGINT/SIGHUP to a recording while it runs (main thread only). A signal this
    process ignores stays ignored, and the command inherits that, as under a shell."""

    def __init__(self, recording: Recording):
        self.recording = recording
        self.previous: dict[int, SignalHandler] = {}

    def __enter__(self):
        if _in_main_thread():
            for signum in FORWARDED_SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup, background jobs: stay ignored
                    self.previous[signum] = signal.signal(signum, self.recording.forward)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _write_summary(path: Path, summary: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(temporary, path)


def record(command: list[str], log_path, interval: float = DEFAULT_INTERVAL_S, *, grace_s: float = DEFAULT_GRACE_S) -> int:
    """Run ``command`` (no shell) under the recorder; returns its status (128 + signal if killed).

    Raises ValueError for an empty command or an interval outside 0.1-3600 s and OSError when the log
    cannot be written; a command that cannot be started gives 127 (not found) or 126 (not
    executable), one line on stderr, and still a summary. While it runs, this process adopts the
    command's orphans, counts every child it has as part of the tree and reaps them: call it from
    a process with no other children (``python -m srcnet_tui.core.task.recorder`` and the CLI are such processes).
    """
    if not command:
        raise ValueError("no command to record (put it after --)")
    if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        raise ValueError(f"--interval must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds, got {interval:g}")
    log_path = Path(log_path)
    started = time.time()
    with open(log_path, "w") as log:
        log.write(",".join(CSV_COLUMNS) + "\n")
        log.flush()
        recording = Recording(list(command), log, interval, grace_s)
        status, error = _run(recording)
    _write_summary(summary_path(log_path), recording.summary(started, status, error))
    return status


def _run(recording: Recording) -> tuple[int, str | None]:
    was_subreaper = _set_subreaper(True)
    try:
        with _SignalsForwardedTo(recording):
            try:
                recording.start()
            except OSError as exc:
                status = 127 if isinstance(exc, FileNotFoundError) else 126
                reason = "command not found" if status == 127 else f"cannot run command ({exc.strerror})"
                error = f"{reason}: {recording.command[0]}"
                print(f"record: {error}", file=sys.stderr)
                return status, error
            return recording.run(), None
    finally:
        _set_subreaper(was_subreaper)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m srcnet_tui.core.task.recorder",
        description="Run CMD without a shell and log its process tree's CPU, memory and I/O "
        "(psrecord CSV columns); exit with CMD's status.",
        usage="%(prog)s --log FILE [--interval S] [--grace S] -- CMD [ARG ...]",
    )
    add_record_options(parser)
    return parser


def add_record_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", required=True, metavar="FILE", help="CSV profile to write (summary goes beside it)")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between samples, {MIN_INTERVAL_S:g}-{MAX_INTERVAL_S:g} (default {DEFAULT_INTERVAL_S:g})",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_S,
        metavar="S",
        help=f"seconds between forwarding SIGTERM and sending SIGKILL (default {DEFAULT_GRACE_S:g})",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, command = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = build_parser().parse_args(ours)
    try:
        return record(command, args.log, args.interval, grace_s=args.grace)
    except (ValueError, OSError) as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
