"""The run ledger: every planned task of every run, in SQLite in the state folder.

Crash safety is the reason it exists. The orchestrator writes its intent before it acts: a task is
marked ``launching`` (with its deterministic session name) *before* the create request is sent, and
``launched`` with the session id right after. Whatever moment the CLI is killed at, a resume can tell
what may already be running: a task still in ``launching`` is looked up by name on the platform and
adopted if its session exists, so nothing is launched twice and nothing is lost.

Task states: planned -> launching -> launched -> completed | no-sources | failed | lost.
A task's row is its current attempt; every attempt also has a row of its own in ``attempts`` (its
session, times, state, cause, profile log and summary, usage), kept when the task is relaunched after a
loss, retried, or restarted by the platform (preempted: the same session starts again). A run records
the backend and site it was launched on: it is driven and refreshed there only.
Every change is its own committed transaction (WAL, synchronous=NORMAL: a committed change survives
the process being killed at any moment; only a power cut can lose the last few). A run keeps its
plan and every task its spec as typed records (:mod:`srcnet_tui.core.runs.spec`), stored as JSON.
One ledger may be called from several threads (async code calls it through ``asyncio.to_thread``);
its calls take turns.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.spec import RunPlan, TaskSpec
from srcnet_tui.core.runs.states import (  # noqa: F401 - the ledger's callers read the states from here too
    COMPLETED,
    FAILED,
    FINISHED_STATES,
    LAUNCHED,
    LAUNCHING,
    LOST,
    NO_SOURCES,
    PLANNED,
    PREEMPTED,
    RETRYABLE_STATES,
    SUCCESS_STATES,
    TASK_STATES,
)
from srcnet_tui.core.skaha import LaunchSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    kind TEXT NOT NULL,
    config TEXT,
    section TEXT,
    backend TEXT,
    phase TEXT NOT NULL,
    finished REAL,
    remote_dir TEXT,
    local_dir TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL,
    session_id TEXT,
    exit_code INTEGER,
    message TEXT,
    launching_at REAL,
    launched_at REAL,
    finished_at REAL,
    spec TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS tasks_by_session ON tasks(session_id);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    session_id TEXT,
    state TEXT NOT NULL,
    exit_code INTEGER,
    cause TEXT,
    message TEXT,
    advice TEXT,
    cores INTEGER,
    ram_gb INTEGER,
    launched_at REAL,
    started_at REAL,
    finished_at REAL,
    profile_log TEXT,
    summary TEXT,
    usage TEXT,
    PRIMARY KEY (run_id, idx, attempt)
);
"""
ADDED_COLUMNS = {
    "runs": ("site TEXT",),
    "tasks": ("cause TEXT", "advice TEXT", "started_at REAL"),
}
"""Columns later versions added to the tables of earlier ones (added to an old ledger when opened)."""


def ledger_path(state_dir: Path) -> Path:
    return Path(state_dir) / "runs.sqlite"


def new_run_id(now: float | None = None) -> str:
    """A sortable, unique id that can go into session names: ``YYYYMMDD-HHMMSS-xxxx``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(2)}"


def check_state_dir(state_dir: Path) -> None:
    """Refuse a state folder that is not a folder (one line, exit 2) instead of finding nothing in it."""
    if Path(state_dir).exists() and not Path(state_dir).is_dir():
        raise UsageError(f"{state_dir}: the state folder is not a folder (set --state-dir or SRCNET_STATE_DIR)")


def make_state_dir(state_dir: Path) -> None:
    """The state folder, private (0700) when created here: the ledger holds the runs' env values."""
    check_state_dir(state_dir)
    try:
        Path(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{state_dir}: cannot create the state folder ({exc.strerror})") from None


def _make_private_file(path: Path) -> None:
    """The ledger readable by its owner only (SQLite gives its -wal and -shm files the same mode)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        with suppress(PermissionError):  # a ledger someone else owns keeps its mode
            os.chmod(path, 0o600)
    except IsADirectoryError:
        raise UsageError(f"{path}: the run ledger is a folder; move it aside to start a new ledger") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot open the run ledger ({exc.strerror})") from None


@dataclass(frozen=True)
class TaskRecord:
    """A task as the ledger has it now: its state, session and outcome, and the spec it was planned with."""

    run_id: str
    index: int
    name: str
    attempt: int
    state: str
    session_id: str | None
    exit_code: int | None
    message: str | None
    launching_at: float | None
    launched_at: float | None
    finished_at: float | None
    spec: TaskSpec
    cause: str | None = None
    """How the current attempt ended, in the words of :class:`srcnet_tui.core.runs.causes.Cause` (its state)."""
    advice: str | None = None
    started_at: float | None = None
    """When the platform last reported the current attempt's session started (a restart moves it)."""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def launch_spec(self) -> LaunchSpec:
        """The create request for this task's current attempt (its session name)."""
        return self.spec.launch_spec(self.name)


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of a task: a session (or one start of it), how it ended, its files and usage.

    ``wasted``: a later attempt replaced it (a relaunch, a retry, a restart by the platform), so its
    usage bought no result."""

    run_id: str
    index: int
    attempt: int
    name: str
    session_id: str | None
    state: str
    exit_code: int | None
    cause: str | None
    message: str | None
    advice: str | None
    cores: int | None
    ram_gb: int | None
    launched_at: float | None
    started_at: float | None
    finished_at: float | None
    profile_log: str | None
    summary: str | None
    usage: dict | None
    wasted: bool

    def to_json(self) -> dict:
        return {
            "attempt": self.attempt,
            "name": self.name,
            "session_id": self.session_id,
            "state": self.state,
            "exit_code": self.exit_code,
            "cause": self.cause,
            "message": self.message,
            "advice": self.advice,
            "cores": self.cores,
            "ram_gb": self.ram_gb,
            "launched": _iso(self.launched_at),
            "started": _iso(self.started_at),
            "finished": _iso(self.finished_at),
            "profile_log": self.profile_log,
            "summary": self.summary,
            "usage": self.usage,
            "wasted": self.wasted,
        }


@dataclass(frozen=True)
class RunRecord:
    """A run as the ledger has it: where it is, its plan (None when listed without it) and task counts."""

    id: str
    created: float
    kind: str
    config: str | None
    section: str | None
    backend: str | None
    phase: str
    finished: float | None
    remote_dir: str | None
    local_dir: str | None
    plan: RunPlan | None
    counts: dict[str, int]
    site: str | None = None
    attempts: int = 0
    """Attempts of all its tasks: its tasks plus every relaunch, retry and restart by the platform."""

    @property
    def where(self) -> str | None:
        """The site it ran at (or, for runs recorded before sites, its backend)."""
        return self.site or self.backend

    @property
    def tasks(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(n for state, n in self.counts.items() if state in FINISHED_STATES)

    def to_json(self) -> dict:
        """The ``runs --json`` shape: id, created (ISO UTC), tasks, counts per state, and more."""
        return {
            "id": self.id,
            "created": _iso(self.created),
            "kind": self.kind,
            "config": self.config,
            "section": self.section,
            "backend": self.backend,
            "site": self.where,
            "phase": self.phase,
            "finished": _iso(self.finished),
            "tasks": self.tasks,
            "attempts": self.attempts,
            "counts": {state: self.counts.get(state, 0) for state in TASK_STATES},
            "remote_dir": self.remote_dir,
            "local_dir": self.local_dir,
        }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


P = ParamSpec("P")
R = TypeVar("R")


def _in_turn(method: Callable[Concatenate[Ledger, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """One call at a time on the ledger's connection, whichever thread makes it; SQLite's own errors
    (a ledger locked past the timeout, a disk that fails) become one line naming the file."""

    @wraps(method)
    def in_turn(self: Ledger, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._turn:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise UsageError(f"{self.path}: the run ledger failed ({exc})") from None

    return in_turn


class Ledger:
    """One SQLite file shared by the CLI and the TUI (several processes may open it)."""

    def __init__(self, state_dir: Path):
        self.path = ledger_path(state_dir)
        self._turn = threading.RLock()
        make_state_dir(self.path.parent)
        _make_private_file(self.path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._add_missing_columns()
        except sqlite3.Error as exc:
            raise UsageError(f"{self.path}: not a usable run ledger ({exc}); move it aside to start a new one") from None

    def _add_missing_columns(self) -> None:
        """Bring a ledger an earlier version wrote up to this layout (in one transaction, so two
        processes opening it at once do not both add a column)."""
        with self._transaction() as db:
            for table, columns in ADDED_COLUMNS.items():
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                for column in columns:
                    if column.split()[0] not in present:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    @_in_turn
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- runs ----------------------------------------------------------------------------------
    @_in_turn
    def create_run(
        self,
        run_id: str,
        kind: str,
        tasks: Sequence[TaskSpec],
        *,
        config: str | None = None,
        section: str | None = None,
        backend: str | None = None,
        remote_dir: str | None = None,
        local_dir: str | None = None,
        plan: RunPlan | None = None,
        site: str | None = None,
    ) -> None:
        """Record a run and all its planned tasks (named as planned) in one transaction."""
        now = time.time()
        details = json.dumps({"plan": plan.to_dict()} if plan else {})
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (id, created, kind, config, section, backend, site, phase, remote_dir, local_dir, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?)",
                (run_id, now, kind, config, section, backend, site, remote_dir, local_dir, details),
            )
            db.executemany(
                "INSERT INTO tasks (run_id, idx, name, state, spec) VALUES (?, ?, ?, 'planned', ?)",
                [(run_id, spec.index, spec.name, json.dumps(spec.to_dict())) for spec in tasks],
            )

    @_in_turn
    def set_phase(self, run_id: str, phase: str, *, finished: bool = False) -> None:
        """The run's phase; ``finished`` stamps its end (any other phase clears it: the run goes on)."""
        stamp = time.time() if finished else None
        self._db.execute("UPDATE runs SET phase = ?, finished = ? WHERE id = ?", (phase, stamp, run_id))

    @_in_turn
    def run(self, run_id: str) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"run {run_id}: not in the ledger {self.path}")
        return self._run_record(row)

    @_in_turn
    def runs(self, limit: int | None = None) -> list[RunRecord]:
        """All runs, newest first; without their (large) plans: ask :meth:`run` for those."""
        sql = "SELECT * FROM runs ORDER BY created DESC, id DESC"
        rows = self._db.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [self._run_record(row, with_details=False) for row in rows]

    def _run_record(self, row: sqlite3.Row, with_details: bool = True) -> RunRecord:
        rows = self._db.execute(
            "SELECT state, COUNT(*), SUM(attempt) FROM tasks WHERE run_id = ? GROUP BY state", (row["id"],)
        ).fetchall()
        counts = {state: n for state, n, _ in rows}
        recorded = json.loads(row["details"]).get("plan") if with_details else None
        return RunRecord(
            row["id"],
            row["created"],
            row["kind"],
            row["config"],
            row["section"],
            row["backend"],
            row["phase"],
            row["finished"],
            row["remote_dir"],
            row["local_dir"],
            RunPlan.from_dict(recorded) if recorded else None,
            counts,
            row["site"],
            sum(attempts for _, _, attempts in rows),
        )

    @contextmanager
    def driving(self, run_id: str) -> Iterator[None]:
        """Hold the run for this process while it drives it; a second driver is refused (exit 2).

        An advisory lock on ``<state_dir>/locks/RUN_ID.lock``: the kernel drops it when the process
        dies, however it dies, so a killed run never stays locked.
        """
        folder = self.path.parent / "locks"
        folder.mkdir(exist_ok=True)
        with open(folder / f"{run_id}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise UsageError(f"run {run_id} is being driven by {holder}; wait for it or stop it first") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()}")
            handle.flush()
            yield

    # -- tasks ---------------------------------------------------------------------------------
    @_in_turn
    def tasks(self, run_id: str, states: tuple[str, ...] | None = None) -> list[TaskRecord]:
        rows = self._db.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
        records = [_task_record(row) for row in rows]
        return [t for t in records if states is None or t.state in states]

    @_in_turn
    def task(self, run_id: str, index: int) -> TaskRecord:
        row = self._db.execute("SELECT * FROM tasks WHERE run_id = ? AND idx = ?", (run_id, index)).fetchone()
        if row is None:
            raise NotFound(f"run {run_id}: no task {index}")
        return _task_record(row)

    @_in_turn
    def mark_launching(self, run_id: str, index: int) -> TaskRecord:
        """Record the intent to create this task's session (call before sending the create)."""
        self._update(run_id, index, "state = 'launching', launching_at = ?", (time.time(),))
        return self.task(run_id, index)

    @_in_turn
    def mark_launched(self, run_id: str, index: int, session_id: str) -> None:
        """The create answered (or a session of the task's name was adopted): its attempt begins."""
        with self._transaction():
            self._update(run_id, index, "state = 'launched', session_id = ?, launched_at = ?", (session_id, time.time()))
            self._open_attempt(self.task(run_id, index))

    @_in_turn
    def mark_started(self, run_id: str, index: int, started_at: float) -> None:
        """The platform reports the current attempt's session started at ``started_at``."""
        with self._transaction():
            self._update(run_id, index, "started_at = ?", (started_at,))
            self._update_attempt(self.task(run_id, index), "started_at = ?", (started_at,))

    @_in_turn
    def mark_finished(
        self,
        run_id: str,
        index: int,
        state: str,
        exit_code: int | None = None,
        message: str | None = None,
        *,
        cause: str | None = None,
        advice: str | None = None,
    ) -> None:
        if state not in FINISHED_STATES:
            raise UsageError(f"task state {state!r} is not a finished state")
        outcome = (state, exit_code, message, cause, advice, time.time())
        with self._transaction():
            self._update(run_id, index, "state = ?, exit_code = ?, message = ?, cause = ?, advice = ?, finished_at = ?", outcome)
            task = self.task(run_id, index)
            if not self._has_attempt(task):  # finished from its outputs without a session of its own
                self._open_attempt(task)
            self._update_attempt(task, "state = ?, exit_code = ?, message = ?, cause = ?, advice = ?, finished_at = ?", outcome)

    @_in_turn
    def mark_preempted(
        self, run_id: str, index: int, message: str, advice: str, *, files: AttemptFiles, started_at: float | None = None
    ) -> TaskRecord:
        """The platform ended the current attempt's session to start it again (Kueue preemption): that
        attempt ends ``preempted`` with its files and usage, and the same session begins the next one."""
        with self._transaction():
            task = self.task(run_id, index)
            if not self._has_attempt(task):
                self._open_attempt(task)
            self._update_attempt(
                task,
                "state = ?, cause = ?, message = ?, advice = ?, finished_at = ?",
                (PREEMPTED, PREEMPTED, message, advice, time.time()),
            )
            self._record_files(task, files)
            self._update(run_id, index, "attempt = ?, started_at = ?", (task.attempt + 1, started_at))
            restarted = self.task(run_id, index)
            self._open_attempt(restarted)
            return restarted

    @_in_turn
    def record_attempt_files(self, run_id: str, files: dict[tuple[int, int], AttemptFiles]) -> None:
        """Attempts' profile logs and summaries (names in the run's results folder) and usage, by
        (task index, attempt), in one transaction."""
        with self._transaction():
            for (index, attempt), kept in files.items():
                self._record_files(dataclasses.replace(self.task(run_id, index), attempt=attempt), kept)

    @_in_turn
    def mark_planned(self, run_id: str, index: int, *, next_attempt: bool = False) -> None:
        """Back to ``planned`` (nothing was created); with ``next_attempt`` the task gets a fresh name."""
        with self._transaction():
            self._back_to_planned(self.task(run_id, index), next_attempt, None)

    @_in_turn
    def plan_retry(self, run_id: str, specs: Sequence[TaskSpec], files: dict[int, AttemptFiles]) -> None:
        """Put the ended tasks of ``specs`` (by index) back in the queue as their next attempts, with
        those specs and the files of the attempts they replace recorded, all in one transaction:
        a retry killed at any moment has either queued them all or changed nothing."""
        with self._transaction():
            for spec in specs:
                task = self.task(run_id, spec.index)
                if not task.finished or task.state in SUCCESS_STATES:
                    raise UsageError(f"run {run_id}: task {spec.index} is {task.state}; only failed or lost tasks are retried")
                if not self._has_attempt(task):  # launched by an earlier version, which kept no attempts
                    self._open_attempt(task)
                if spec.index in files:
                    self._record_files(task, files[spec.index])
                self._back_to_planned(task, True, spec)
            self._db.execute("UPDATE runs SET phase = 'planned', finished = NULL WHERE id = ?", (run_id,))

    def _back_to_planned(self, task: TaskRecord, next_attempt: bool, spec: TaskSpec | None) -> None:
        name, attempt = task.name, task.attempt
        if next_attempt:
            attempt += 1
            name = attempt_name(task.spec.name, attempt)
        self._update(
            task.run_id,
            task.index,
            "state = 'planned', session_id = NULL, exit_code = NULL, message = NULL, cause = NULL, advice = NULL,"
            " started_at = NULL, name = ?, attempt = ?, finished_at = NULL, spec = ?",
            (name, attempt, json.dumps((spec or task.spec).to_dict())),
        )

    # -- attempts ------------------------------------------------------------------------------
    @_in_turn
    def attempts(self, run_id: str, index: int | None = None) -> list[AttemptRecord]:
        """Every attempt of the run's tasks (or of one), by task and attempt. A task an earlier version
        launched, which has no attempt rows, shows its current attempt from its task row."""
        tasks = self.tasks(run_id) if index is None else [self.task(run_id, index)]
        sql = "SELECT * FROM attempts WHERE run_id = ?" + (" AND idx = ?" if index is not None else "")
        rows = self._db.execute(sql + " ORDER BY idx, attempt", (run_id,) if index is None else (run_id, index)).fetchall()
        by_task: dict[int, list[sqlite3.Row]] = {}
        for row in rows:
            by_task.setdefault(row["idx"], []).append(row)
        found = []
        for task in tasks:
            recorded = by_task.get(task.index)
            if recorded:
                found += [_attempt_record(row, wasted=row["attempt"] < task.attempt) for row in recorded]
            elif task.state != PLANNED:
                found.append(_attempt_of_task(task))
        return found

    def _has_attempt(self, task: TaskRecord) -> bool:
        sql = "SELECT 1 FROM attempts WHERE run_id = ? AND idx = ? AND attempt = ?"
        return self._db.execute(sql, (task.run_id, task.index, task.attempt)).fetchone() is not None

    def _open_attempt(self, task: TaskRecord) -> None:
        """The row of the task's current attempt, as the task row has it now."""
        opened = _attempt_of_task(task)
        values = tuple(getattr(opened, name) for name in _OPENED_FIELDS)
        self._db.execute(
            f"INSERT OR REPLACE INTO attempts ({', '.join(_OPENED_COLUMNS)}) VALUES ({', '.join('?' * len(values))})",
            values,
        )

    def _update_attempt(self, task: TaskRecord, assignments: str, values: tuple[Any, ...]) -> None:
        self._db.execute(
            f"UPDATE attempts SET {assignments} WHERE run_id = ? AND idx = ? AND attempt = ?",
            (*values, task.run_id, task.index, task.attempt),
        )

    def _record_files(self, task: TaskRecord, files: AttemptFiles) -> None:
        self._update_attempt(
            task,
            "profile_log = ?, summary = ?, usage = ?",
            (files.profile_log, files.summary, json.dumps(files.usage) if files.usage is not None else None),
        )

    def _update(self, run_id: str, index: int, assignments: str, values: tuple[Any, ...]) -> None:
        cursor = self._db.execute(f"UPDATE tasks SET {assignments} WHERE run_id = ? AND idx = ?", (*values, run_id, index))
        if cursor.rowcount != 1:
            raise NotFound(f"run {run_id}: no task {index}")


def attempt_name(planned: str, attempt: int) -> str:
    """The session name of a task's attempt launched anew: the planned name, then ``<planned>-a2``, ...
    (a restart by the platform keeps the session, and so its name)."""
    return planned if attempt == 1 else f"{planned}-a{attempt}"


@dataclass(frozen=True)
class AttemptFiles:
    """Where an attempt's profile log and summary are kept in the run's results folder, and its usage
    (``aggregate``'s numbers for that log; None when nothing came back)."""

    profile_log: str | None
    summary: str | None
    usage: dict | None = None


def _attempt_record(row: sqlite3.Row, wasted: bool) -> AttemptRecord:
    return AttemptRecord(
        row["run_id"],
        row["idx"],
        row["attempt"],
        row["name"],
        row["session_id"],
        row["state"],
        row["exit_code"],
        row["cause"],
        row["message"],
        row["advice"],
        row["cores"],
        row["ram_gb"],
        row["launched_at"],
        row["started_at"],
        row["finished_at"],
        row["profile_log"],
        row["summary"],
        json.loads(row["usage"]) if row["usage"] else None,
        wasted,
    )


_OPENED_FIELDS = (
    "run_id", "index", "attempt", "name", "session_id", "state", "exit_code", "cause", "message", "advice", "cores",
    "ram_gb", "launched_at", "started_at", "finished_at", "profile_log", "summary",
)  # fmt: skip
"""The AttemptRecord fields an attempt's row starts with (usage and ``wasted`` come later)."""
_OPENED_COLUMNS = tuple("idx" if name == "index" else name for name in _OPENED_FIELDS)


def _attempt_of_task(task: TaskRecord) -> AttemptRecord:
    outputs = task.spec.outputs
    return AttemptRecord(
        task.run_id,
        task.index,
        task.attempt,
        task.name,
        task.session_id,
        task.state,
        task.exit_code,
        task.cause,
        task.message,
        task.advice,
        task.spec.cores,
        task.spec.ram_gb,
        task.launched_at,
        task.started_at,
        task.finished_at,
        outputs.profile_log,
        outputs.summary,
        None,
        False,
    )


def _task_record(row: sqlite3.Row) -> TaskRecord:
    return TaskRecord(
        row["run_id"],
        row["idx"],
        row["name"],
        row["attempt"],
        row["state"],
        row["session_id"],
        row["exit_code"],
        row["message"],
        row["launching_at"],
        row["launched_at"],
        row["finished_at"],
        TaskSpec.from_dict(json.loads(row["spec"])),
        row["cause"],
        row["advice"],
        row["started_at"],
    )
