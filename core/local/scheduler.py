"""The local "cluster": session records, admission by cores and RAM, preemption, process lifecycle, recovery.

A session is created Pending and costs nothing but a record until the cores and RAM it asked for
are free on this machine (strict FIFO within a priority, interactive kinds before headless, like
CANFAR's Kueue queue: srcnet_tui.core.local.priority); then it is started under the shim and is
Running; the shim's exit file turns it Completed (exit 0) or Failed. An interactive session that
does not fit evicts running headless ones (unless preemption is off): each goes back to Pending
(no start time, no logs, events 404), its process tree is ended, and it is queued again, to start
from the beginning under a fresh shim with the same id. A monitor thread notices exits, enforces
the maximum runtime and the memory limits (srcnet_tui.core.local.memory), samples usage of Running
sessions, expires finished sessions TTL seconds after they end, and admits the next Pending ones.

Persistence: a record is changed under the scheduler lock and appended to the journal; before the
request that caused the change is answered, the journal is made durable outside the lock, together
with every other change appended meanwhile (group commit, see srcnet_tui.core.local.journal). Whatever a ``kill -9`` cuts short is re-derived by :meth:`recover` from the processes
and the shim's files: a live shim (it holds its flock) is re-adopted even if its record still says
Pending, a finished one reports its exit status, a vanished one becomes Failed with an event, and
an eviction that was recorded is carried out (processes are ended only once it is durable).
"""

from __future__ import annotations

import logging
import os
import secrets
import string
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import psutil

from srcnet_tui.core.backoff import Backoff, wait_until
from srcnet_tui.core.local import memory, procs
from srcnet_tui.core.local.context import (
    INTERACTIVE_EXPIRY_S,
    MAX_INTERACTIVE_SESSIONS,
    BadRequest,
    Capacity,
    LaunchRequest,
)
from srcnet_tui.core.local.journal import Batch, Journal
from srcnet_tui.core.local.priority import AdmissionQueue, Resources, fits, minus, plus, victims_for
from srcnet_tui.core.local.store import Store
from srcnet_tui.core.local.views import local_user, new_event
from srcnet_tui.core.skaha_rules import (
    COMPLETED,
    CREATE_ID_ENV,
    FAILED,
    FINISHED_LISTED_S,
    GIB,
    HEADLESS_DEADLINE_S,
    PENDING,
    RUNNING,
    TERMINAL_STATUSES,
    TERMINATING,
)

log = logging.getLogger("srcnet.local")

ID_ALPHABET = string.ascii_lowercase + string.digits
TICK_S = 0.1
USAGE_EVERY_S = 1.0
SHIM_POLL = Backoff(first_s=0.02, factor=1.0)
"""A shim that holds its lock writes its info within moments: look every 20 ms."""


@dataclass(frozen=True)
class Limits:
    """Lifetimes and capacity of the local platform."""

    capacity: Capacity
    ttl_s: float = FINISHED_LISTED_S
    max_runtime_s: float = HEADLESS_DEADLINE_S
    kill_grace_s: float = 2.0
    preempt: bool = True


class NoActiveJob(Exception):
    """Renew of a session that is not running."""


class Scheduler:
    """All sessions of the local server; every public method is thread-safe."""

    def __init__(self, store: Store, limits: Limits):
        self.store = store
        self.limits = limits
        self.user = local_user()
        self._lock = threading.RLock()
        self._records: dict[str, dict] = {}
        self._queue = AdmissionQueue()  # Pending records waiting for admission
        self._holding: dict[str, dict] = {}  # Running/Terminating/evicting records: what occupies the machine
        self._children: dict[str, subprocess.Popen] = {}  # id -> Popen of shims we started (to reap them)
        self._usage: dict[str, tuple[float, int]] = {}
        self._samplers: dict[str, procs.UsageSampler] = {}
        self._next_sample: dict[str, float] = {}  # id -> when to sample its usage (and memory) again
        self._seq = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._monitor: threading.Thread | None = None
        self.journal = Journal(store.root)
        self._unsynced = threading.local()  # .batch: the newest batch holding a change made by this thread
        self._doomed: list[tuple[str, Batch]] = []  # forgotten sessions: folders go once the forget is durable
        self._by_create_id: dict[str, tuple[str, Batch | None]] = {}  # -> (session id, batch until durable)

    # --- lifecycle of the scheduler itself ---------------------------------------------------
    def recover(self) -> None:
        """Load the state folder and reconcile it with the processes that are actually there."""
        self._load_records()
        evicting = []
        for record in sorted(self._records.values(), key=_queue_order):
            if record.get("evicting"):
                evicting.append(record)
                self._holding[record["id"]] = record  # what it holds is free once its processes are gone
                continue
            if record["state"] == RUNNING or (record["state"] == PENDING and self.store.lock_path(record["id"]).exists()):
                self._readopt(record)
            if record["state"] == PENDING:
                self._queue.add(record)
            elif record["state"] in (RUNNING, TERMINATING):
                self._holding[record["id"]] = record
        self._admit()
        self._flush()
        # Ending processes takes a grace period each: do it in the background, the server can answer meanwhile.
        self._in_background(self._end_strays)
        for record in evicting:
            self._in_background(self._evict, record, None)
        for record in [r for r in self._records.values() if r["state"] == TERMINATING]:
            self._in_background(self._complete_delete, record)

    def _load_records(self) -> None:
        """Read the records (also those of the per-session layout) and start a fresh journal from them."""
        records = self.journal.load(self.store.per_session_records())
        self.store.sweep_orphans(set(records))
        self.journal.restart({session_id: self.store.encode(record) for session_id, record in records.items()})
        self.store.drop_per_session_records()
        for session_id, record in records.items():
            self._records[session_id] = record
            self._seq = max(self._seq, record.get("seq", 0), record.get("queue_seq", 0))
            if create_id := _create_id(record):
                self._by_create_id[create_id] = (session_id, None)

    @staticmethod
    def _in_background(target, *args) -> None:
        threading.Thread(target=target, args=args, daemon=True).start()

    def start(self) -> None:
        self._monitor = threading.Thread(target=self._monitor_loop, name="local-monitor", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)

    # --- queries -----------------------------------------------------------------------------
    def snapshot(self) -> list[tuple[dict, tuple[float, int] | None]]:
        """(record, usage) of every listed session, oldest first."""
        with self._lock:
            return [
                (dict(r), self._usage.get(r["id"]) if r["state"] == RUNNING else None)
                for r in sorted(self._records.values(), key=lambda r: r.get("seq", 0))
            ]

    def get(self, session_id: str) -> tuple[dict, tuple[float, int] | None] | None:
        with self._lock:
            record = self._records.get(session_id)
            if record is None:
                return None
            return dict(record), self._usage.get(session_id) if record["state"] == RUNNING else None

    def logs(self, session_id: str) -> bytes | None:
        """The session's output; empty while it is queued (also after a preemption: that log is gone)."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None:
                return None
            if record["state"] == PENDING:
                return b""
        return self.store.read_log(session_id)

    def events(self, session_id: str) -> list | None:
        """The session's events; None when it has no process yet (Skaha answers 404 then)."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None or record["state"] == PENDING:
                return None
            return [list(e) for e in record.get("events", [])]

    def allocation(self) -> tuple[float, float]:
        """Cores and GiB held by sessions that occupy the machine now."""
        with self._lock:
            held = self._holding.values()
            return sum(self._demand(r, "cores") for r in held), sum(self._demand(r, "ram") for r in held)

    # --- commands ----------------------------------------------------------------------------
    def create(self, request: LaunchRequest) -> str:
        """Record a new Pending session durably, then queue it; a resent create (same create id)
        gets the session of the first one instead of a second session."""
        create_id = dict(request.env).get(CREATE_ID_ENV)
        with self._lock:
            known = self._by_create_id.get(create_id) if create_id else None
            if known is None:
                self._check_interactive_limit(request)
                record = self._new_record(request)
                batch = self.journal.append(record["id"], self.store.encode(record))
                if create_id:
                    self._by_create_id[create_id] = (record["id"], batch)
        if known is not None:
            return self._when_durable(*known)
        try:
            self.journal.sync(batch)  # durable before anyone can see it
        except OSError:
            if create_id:
                with self._lock:
                    self._by_create_id.pop(create_id, None)
            raise
        with self._lock:
            if create_id:
                self._by_create_id[create_id] = (record["id"], None)
            self._records[record["id"]] = record
            self._queue.add(record)
            self._admit()
        self._flush()
        return record["id"]

    def _check_interactive_limit(self, request: LaunchRequest) -> None:
        """Skaha's per-user cap on interactive sessions (Pending or Running); headless ones are not counted."""
        if request.type == "headless":
            return
        active = sum(r["type"] != "headless" and r["state"] in (PENDING, RUNNING) for r in self._records.values())
        if active >= MAX_INTERACTIVE_SESSIONS:
            raise BadRequest(f"User {self.user} has reached the maximum of {MAX_INTERACTIVE_SESSIONS} active sessions.")

    def _when_durable(self, session_id: str, batch: Batch | None) -> str:
        if batch is not None:
            self.journal.sync(batch)
        return session_id

    def _new_record(self, request: LaunchRequest) -> dict:
        self._seq += 1
        return {
            "id": self._new_id(),
            "seq": self._seq,
            "name": request.name,
            "image": request.image,
            "type": request.type,
            "cmd": request.cmd,
            "args": list(request.args),
            "env": [list(kv) for kv in request.env],
            "cores": request.cores,
            "ram": request.ram,
            "gpus": request.gpus,
            "created": time.time(),
            "state": PENDING,
            "events": [],
            "version": 1,
        }

    def delete(self, session_id: str) -> None:
        """End the session's processes (all of them) and forget it; unknown ids are ignored."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None or record["state"] == TERMINATING:
                return
            if record["state"] != RUNNING:
                self._forget(session_id)
            else:
                record["state"] = TERMINATING
                record["events"].append(new_event("Normal", "Killing", "Stopping container main"))
                self._save(record)
        self._flush()
        if record["state"] == TERMINATING:
            self._complete_delete(record)

    def _complete_delete(self, record: dict) -> None:
        self._end_processes(record)
        with self._lock:
            self._forget(record["id"])
            self._admit()
        self._flush()

    def renew(self, session_id: str) -> None:
        with self._lock:
            record = self._records.get(session_id)
            if record is None or record["state"] != RUNNING:
                raise NoActiveJob(f"No active job for user {self.user} with session ID {session_id}")
            record["expiry"] = max(record.get("expiry") or 0, time.time() + self._lifetime(record))
            self._save(record)
        self._flush()

    # --- admission ---------------------------------------------------------------------------
    def _demand(self, record: dict, kind: str) -> float:
        value = record.get(kind)
        return float(value) if value is not None else self.limits.capacity.flexible(kind)

    def _needs(self, record: dict) -> Resources:
        return self._demand(record, "cores"), self._demand(record, "ram")

    def _free(self) -> Resources:
        return minus((self.limits.capacity.cores, self.limits.capacity.ram_gb), self.allocation())

    def _admit(self) -> None:
        """Start Pending sessions in queue order while the head of the queue fits; a head that does
        not fit may evict sessions of lower priority, and waits for them to be gone."""
        with self._lock:
            free = self._free()
            for record in self._queue:
                need = self._needs(record)
                if not fits(need, free):
                    self._make_room(record, need)
                    return
                self._start(record)
                free = minus(free, need)

    def _make_room(self, head: dict, need: Resources) -> None:
        """Evict just enough running sessions of lower priority for ``head`` (counting evictions under way)."""
        if not self.limits.preempt:
            return
        leaving = [r for r in self._holding.values() if r.get("evicting")]
        free_soon = self._free()
        for record in leaving:
            free_soon = plus(free_soon, self._needs(record))
        if fits(need, free_soon):
            return  # room is being made already
        running = [r for r in self._holding.values() if r["state"] == RUNNING]
        for victim in victims_for(head, need, free_soon, running, self._needs):
            self._preempt(victim, head["id"])

    # --- preemption --------------------------------------------------------------------------
    def preempt(self, session_id: str) -> None:
        """Evict a Running session as a higher-priority arrival would (fault injection for tests)."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None or record["state"] != RUNNING:
                raise NoActiveJob(f"No active job for user {self.user} with session ID {session_id}")
            self._preempt(record, None)
        self._flush()

    def _preempt(self, record: dict, preemptor_id: str | None) -> None:
        """Suspend a Running session back to Pending, as Kueue evicts a workload; its processes are
        ended (in the background) once that is durable, then it is queued again."""
        uid = preemptor_id or "UNKNOWN"
        message = f"Preempted to accommodate a workload (UID: {uid}, JobUID: {uid}) due to prioritization in the ClusterQueue"
        record.update(state=PENDING, evicting=True)
        record.pop("started", None)
        record.pop("expiry", None)
        record["events"].append(new_event("Normal", "Preempted", message))
        self._forget_usage(record["id"])
        log.info("session %s preempted (for %s)", record["id"], uid)
        self._in_background(self._evict, record, self._save(record))

    def _evict(self, record: dict, eviction: Batch | None) -> None:
        """End an evicted session's processes and queue it again (behind those waiting at its priority)."""
        self._unsynced.batch = eviction
        self._flush()  # a crash after ending them must find the eviction on disk, not a lost Running session
        self._end_processes(record)
        self.store.clear_attempt(record["id"])
        with self._lock:
            if self._records.get(record["id"]) is record:  # not deleted meanwhile
                self._holding.pop(record["id"], None)
                for key in ("evicting", "pid", "pid_created"):
                    record.pop(key, None)
                self._seq += 1
                record["queue_seq"] = self._seq
                self._queue.add(record)
                self._save(record)
            self._admit()
        self._flush()

    def _session_env(self, record: dict) -> dict[str, str]:
        env = procs.without_credentials(os.environ)
        env.update({k: v for k, v in record["env"]})
        env["PATH"] = session_path(os.path.dirname(sys.executable), self.store.read_client_path(), env.get("PATH", os.defpath))
        env["SRCNET_ARC_ROOT"] = str(self.store.arc_root)
        env["skaha_sessionid"] = record["id"]
        env["skaha_username"] = self.user
        env["skaha_hostname"] = "localhost"
        env["OMP_NUM_THREADS"] = str(max(1, int(record["cores"] or 1)))
        return env

    def _start(self, record: dict) -> None:
        """Admit one session: record the intent, then fork the shim (see recover() for the gap)."""
        session_id = record["id"]
        self._queue.discard(session_id)
        meta, workdir = self.store.meta_dir(session_id), self.store.workdir(session_id)
        command = [record["cmd"], *record["args"]]
        try:
            meta.mkdir(parents=True, exist_ok=True)
            workdir.mkdir(parents=True, exist_ok=True)
            child, created = procs.spawn_shim(meta, workdir, command, self._session_env(record), self.store.lock_path(session_id))
        except OSError as exc:
            self._mark_started(record, time.time(), None, None)
            self._finish(record, FAILED, None, ("Warning", "FailedCreate", f"Error creating the session process: {exc}"))
            return
        self._children[session_id] = child
        self._mark_started(record, time.time(), child.pid, created)
        self._save(record)

    def _lifetime(self, record: dict) -> float:
        """Seconds from start (or renewal) to expiry: 14 days headless, 4 days interactive (never above --max-runtime)."""
        if record["type"] == "headless":
            return self.limits.max_runtime_s
        return min(INTERACTIVE_EXPIRY_S, self.limits.max_runtime_s)

    def _mark_started(self, record: dict, when: float, pid: int | None, created: float | None) -> None:
        record.update(state=RUNNING, started=when, expiry=when + self._lifetime(record), pid=pid, pid_created=created)
        self._holding[record["id"]] = record
        host = f"skaha-{record['type']}-{self.user}-{record['id']}"
        record["events"].append(new_event("Normal", "Scheduled", f"Successfully assigned {host} to localhost", when))
        if pid is not None:
            record["events"].append(new_event("Normal", "Started", f"Started container main (pid {pid})", when))

    # --- monitoring --------------------------------------------------------------------------
    def _monitor_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # keep serving; a bug here must not stop the platform
                log.exception("local monitor tick failed")
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _tick(self) -> None:
        now = time.time()
        self._reap_children()
        with self._lock:
            running = [r for r in self._holding.values() if r["state"] == RUNNING]
        for record in running:
            self._check_running(record, now)
        self._expire_finished(now)
        self._sample_usage(now)
        self._admit()
        self._flush()

    def _reap_children(self) -> None:
        """Collect the exit of shims this server started (the exit file is what counts; this avoids zombies)."""
        for session_id, child in list(self._children.items()):
            if child.poll() is not None:
                self._children.pop(session_id, None)

    def _check_running(self, record: dict, now: float) -> None:
        with self._lock:
            if record["state"] != RUNNING:
                return
            if (record.get("expiry") or now + 1) < now:
                self._finish(
                    record, FAILED, None, ("Warning", "DeadlineExceeded", "Job was active longer than specified deadline")
                )
                self._in_background(self._end_processes, dict(record))
                return
            if self._apply_exit_file(record):
                return
            if procs.process_if_alive(record.get("pid"), record.get("pid_created")) is not None:
                return
            if self._apply_exit_file(record):  # the shim may have written it just before exiting
                return
            self._lost(record, "the session's process ended without recording an exit status")

    def _apply_exit_file(self, record: dict) -> bool:
        status = self.store.exit_status(record["id"])
        if status is None:
            return False
        code = int(status.get("exit_code", 1))
        finished = float(status.get("finished") or time.time())
        if code == 0:
            self._finish(record, COMPLETED, 0, ("Normal", "Completed", "Job completed"), finished)
        else:
            why = f"signal {status['signal']}" if status.get("signal") else f"exit code {code}"
            self._finish(
                record,
                FAILED,
                code,
                ("Warning", "BackoffLimitExceeded", f"Job has reached the specified backoff limit ({why})"),
                finished,
            )
        return True

    def _lost(self, record: dict, why: str) -> None:
        self._finish(record, FAILED, None, ("Warning", "ProcessLost", why))
        stray = procs.marked_processes(self.store.arc_root, record["id"]).get(record["id"])
        if stray:
            self._in_background(procs.end_tree, None, stray, self.limits.kill_grace_s)

    def _finish(
        self, record: dict, state: str, exit_code: int | None, event: tuple[str, str, str], when: float | None = None
    ) -> None:
        when = time.time() if when is None else when
        record.update(state=state, finished=when, exit_code=exit_code)
        self._holding.pop(record["id"], None)
        record["events"].append(new_event(*event, when))
        self._save(record)
        self._forget_usage(record["id"])
        self._wake.set()

    def _forget_usage(self, session_id: str) -> None:
        self._usage.pop(session_id, None)
        self._samplers.pop(session_id, None)
        self._next_sample.pop(session_id, None)

    def _expire_finished(self, now: float) -> None:
        with self._lock:
            expired = [
                r["id"]
                for r in self._records.values()
                if r["state"] in TERMINAL_STATUSES and now - r.get("finished", now) >= self.limits.ttl_s
            ]
            for session_id in expired:
                self._forget(session_id)

    def _sample_usage(self, now: float) -> None:
        """Sample the Running sessions whose turn it is; one over its memory limit is OOM-killed."""
        with self._lock:
            due = [
                (r, r.get("pid"), r.get("pid_created"))
                for r in self._holding.values()
                if r["state"] == RUNNING and self._next_sample.get(r["id"], 0.0) <= now
            ]
        for record, pid, created in due:
            proc = procs.process_if_alive(pid, created)
            if proc is None:
                continue
            usage = self._samplers.setdefault(record["id"], procs.UsageSampler()).sample(proc)
            with self._lock:
                over_limit = self._records.get(record["id"]) is record and self._apply_sample(record, usage, now)
            if over_limit:
                procs.kill_largest(proc)
                self._in_background(self._end_after_oom_kill, dict(record), proc)

    def _apply_sample(self, record: dict, usage: tuple[float, int], now: float) -> bool:
        """Keep a Running session's usage; True when it is over its memory limit (it is Failed then)."""
        if record["state"] != RUNNING:
            return False
        limit = self._memory_limit(record)
        if usage[1] > limit:
            self._finish(record, FAILED, memory.OOM_EXIT_CODE, memory.oom_event(usage[1], limit))
            return True
        self._usage[record["id"]] = usage
        self._next_sample[record["id"]] = now + memory.next_sample_in(limit - usage[1], TICK_S, USAGE_EVERY_S)
        return False

    def _end_after_oom_kill(self, record: dict, root: psutil.Process) -> None:
        """Let the tree end by itself for the grace period (the victim's parent, a recorder say, writes
        down how it ended), then end what is left: the container is over."""
        procs.wait_gone(root, self.limits.kill_grace_s)
        self._end_processes(record)

    def _memory_limit(self, record: dict) -> int:
        """Bytes a session's processes may hold: the RAM it requested, or the flexible ceiling (``defaultLimit``)."""
        ram = record.get("ram")
        gib = float(ram) if ram is not None else self.limits.capacity.default_limit("ram")
        return int(gib * GIB)

    # --- ending and forgetting ---------------------------------------------------------------
    def _end_processes(self, record: dict) -> None:
        root = procs.process_if_alive(record.get("pid"), record.get("pid_created"))
        procs.end_tree(root, grace_s=self.limits.kill_grace_s)
        stray = procs.marked_processes(self.store.arc_root, record["id"]).get(record["id"])
        if stray:
            procs.end_tree(None, stray, grace_s=0.2)
        child = self._children.pop(record["id"], None)
        if child is not None:
            child.poll()

    def _forget(self, session_id: str) -> None:
        record = self._records.pop(session_id, None)
        if record is None:
            return
        if create_id := _create_id(record):
            self._by_create_id.pop(create_id, None)
        self._queue.discard(session_id)
        self._holding.pop(session_id, None)
        self._forget_usage(session_id)
        self._doomed.append((session_id, self._append(session_id, None)))
        self._wake.set()

    # --- persistence -------------------------------------------------------------------------
    def _save(self, record: dict) -> Batch | None:
        """Append the record's new version to the journal (under the lock); :meth:`_flush` makes it durable."""
        if self._records.get(record["id"]) is not record:
            return None  # forgotten meanwhile: its forget is final
        record["version"] = record.get("version", 0) + 1
        return self._append(record["id"], self.store.encode(record))

    def _append(self, session_id: str, data: bytes | None) -> Batch:
        self._unsynced.batch = self.journal.append(session_id, data)
        return self._unsynced.batch

    def _flush(self) -> None:
        """Make the changes this thread made durable (a request waits for its own changes only), then
        remove the folders of forgotten sessions whose forget is durable."""
        batch, self._unsynced.batch = getattr(self._unsynced, "batch", None), None
        if batch is not None:
            try:
                self.journal.sync(batch)
            except OSError as exc:  # e.g. a full disk: keep serving from memory, say so in the server log
                log.error("cannot write the state of the local sessions: %s", exc)
        with self._lock:
            written = [(sid, b) for sid, b in self._doomed if b.done]
            self._doomed = [(sid, b) for sid, b in self._doomed if not b.done]
        for session_id, forget in written:
            if forget.error is None:  # else the next start sweeps them
                self.store.remove_folders(session_id)

    def _new_id(self) -> str:
        while True:
            candidate = "".join(secrets.choice(ID_ALPHABET) for _ in range(8))
            if candidate not in self._records and not self.store.meta_dir(candidate).exists():
                return candidate

    # --- recovery after a restart ------------------------------------------------------------
    def _end_strays(self) -> None:
        """End processes of sessions that are finished or forgotten (a crash came before their end)."""
        for session_id, found in procs.marked_processes(self.store.arc_root).items():
            record = self._records.get(session_id)
            if record is None or record["state"] not in (RUNNING, PENDING):
                procs.end_tree(None, found, grace_s=self.limits.kill_grace_s)

    def _readopt(self, record: dict) -> None:
        """Reconcile a session that was (or may have been) started with what its shim left behind."""
        session_id = record["id"]
        if record["state"] == PENDING:  # started, but the server died before writing so
            info = self._wait_for_shim_info(session_id) if procs.shim_holds_lock(self.store.lock_path(session_id)) else None
            info = info or self.store.shim_info(session_id)
            if info is None:
                return  # never got as far as running: it stays queued
            self._mark_started(record, info["started"], info["pid"], procs.create_time_of(info["pid"]))
        if self._apply_exit_file(record):
            return
        if procs.shim_holds_lock(self.store.lock_path(session_id)):
            record["events"].append(new_event("Normal", "Adopted", "Session re-adopted by a restarted local server"))
            self._save(record)
            return
        if not self._apply_exit_file(record):
            self._lost(record, "the session's process was gone when the local server restarted, without an exit status")

    def _wait_for_shim_info(self, session_id: str, timeout_s: float = 5.0) -> dict | None:
        return wait_until(lambda: self.store.shim_info(session_id), SHIM_POLL.within(timeout_s))


def _queue_order(record: dict) -> int:
    """Creation order, or for a session queued again after a preemption, the order of that."""
    return record.get("queue_seq") or record.get("seq", 0)


def _create_id(record: dict) -> str | None:
    return dict(record.get("env") or []).get(CREATE_ID_ENV)


def session_path(bindir: str, client_path: str, server_path: str) -> str:
    """A session's PATH: this software's own bin folder, then the latest client's PATH, then the
    server's own entries that the client's lacks (each folder once, in that order)."""
    folders = [bindir, *client_path.split(os.pathsep), *server_path.split(os.pathsep)]
    return os.pathsep.join(dict.fromkeys(folder for folder in folders if folder))
