"""Durable session records with group commit: one append-only journal plus an occasional snapshot.

Why: a create may be acknowledged only once its record is on disk, and an fsync takes milliseconds
that the disk serializes. With one file per record, concurrent creates queued behind each other's
fsync. Here every change is appended to one journal; the first request thread that needs its change
on disk writes everything appended so far with one ``write`` and one ``fdatasync`` (it leads the
batch), and the threads whose changes were in that batch are answered after it (group commit). No
request is answered before its change is durable.

Crash safety: each line is a whole record with a version (or a forget, which is final). Reading the
snapshot and then the journal, the highest version of each session wins, so replay is idempotent and
a ``kill -9`` at any moment — also between writing a new snapshot and emptying the journal — keeps
everything that was acknowledged. A torn last line (power cut mid-append) was never acknowledged and
is dropped; a failed append is cut off again so later ones stay readable.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.local.store import write_atomic

SNAPSHOT = "records.jsonl"
JOURNAL = "journal.jsonl"
MIN_COMPACT_BYTES = 1 << 20


class Batch:
    """Changes that reach the disk together; ``error`` is set when writing them failed."""

    def __init__(self):
        self.changes: list[tuple[str, bytes | None]] = []  # (id, encoded record or None = forgotten)
        self.done = False
        self.error: OSError | None = None


def forget_line(session_id: str) -> bytes:
    return (json.dumps({"id": session_id, "forgotten": True}) + "\n").encode()


def parse_lines(path: Path, records: dict[str, dict], gone: set[str]) -> None:
    """Apply the lines of ``path`` to ``records`` (highest version wins; forgotten ids go to ``gone``)."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"{path}: cannot read local-server state ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            session_id = entry["id"]
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                return  # torn by a crash mid-append: it was never acknowledged
            raise UsageError(f"{path}: unreadable local-server state at line {number} ({exc.__class__.__name__})") from None
        merge(records, gone, session_id, entry)


def merge(records: dict[str, dict], gone: set[str], session_id: str, entry: dict) -> None:
    """Apply one line: the highest version of a record wins, and a forgotten session stays forgotten."""
    if entry.get("forgotten") or session_id in gone:
        gone.add(session_id)
        records.pop(session_id, None)
    elif entry.get("version", 0) >= records.get(session_id, {}).get("version", 0):
        records[session_id] = entry


class Journal:
    """The records of one state folder; :meth:`append` under the caller's lock, :meth:`sync` outside it."""

    def __init__(self, root: Path):
        self.snapshot_path = root / SNAPSHOT
        self.journal_path = root / JOURNAL
        self._cond = threading.Condition()
        self._open = Batch()
        self._writing = False
        self._latest: dict[str, bytes] = {}  # what the next snapshot holds
        self._latest_bytes = 0
        self._fd: int | None = None
        self._size = 0

    def load(self, records: dict[str, dict] | None = None) -> dict[str, dict]:
        """Every live record on disk, merged over ``records`` (read from elsewhere, e.g. older layouts)."""
        records, gone = dict(records or {}), set[str]()
        parse_lines(self.snapshot_path, records, gone)
        parse_lines(self.journal_path, records, gone)
        return records

    def restart(self, records: dict[str, bytes]) -> None:
        """Start from ``records`` (id -> encoded record): a fresh snapshot and an empty journal."""
        with self._cond:
            self._latest = dict(records)
            self._latest_bytes = sum(map(len, records.values()))
            try:
                self._compact()
            except OSError as exc:
                raise UsageError(f"{self.journal_path.parent}: cannot write local-server state ({exc.strerror})") from None

    # --- writing -----------------------------------------------------------------------------
    def append(self, session_id: str, data: bytes | None) -> Batch:
        """Queue a record's new version (None: the session is forgotten); returns its batch."""
        with self._cond:
            self._open.changes.append((session_id, data))
            return self._open

    def current(self) -> Batch:
        """The batch that holds every change appended so far."""
        with self._cond:
            return self._open

    def sync(self, batch: Batch) -> None:
        """Return once ``batch`` (and everything before it) is on disk; raise OSError if writing it failed."""
        with self._cond:
            while not batch.done:
                if self._writing:
                    self._cond.wait()
                    continue
                self._lead()
            if batch.error is not None:
                raise batch.error

    def _lead(self) -> None:
        """Write the open batch (called holding the condition; releases it during the I/O)."""
        batch, self._open, self._writing = self._open, Batch(), True
        self._cond.release()
        try:
            self._write(batch)
        except BaseException as exc:  # a bug: the followers must not take their changes for durable
            batch.error = OSError(f"journal write failed: {exc!r}")
            raise
        finally:
            self._cond.acquire()
            self._writing = False
            batch.done = True
            self._cond.notify_all()

    def _write(self, batch: Batch) -> None:
        if not batch.changes:
            return
        fd = self._fd
        assert fd is not None, "restart() opens the journal before anything is written"
        data = b"".join(line if line is not None else forget_line(sid) for sid, line in batch.changes)
        try:
            _write_all(fd, data)
            os.fdatasync(fd)
        except OSError as exc:  # e.g. a full disk: cut the partial append off, tell every waiter
            batch.error = exc
            _truncate_quietly(fd, self._size)
            return
        self._size += len(data)
        for session_id, line in batch.changes:
            self._latest_bytes -= len(self._latest.pop(session_id, b""))
            if line is not None:
                self._latest[session_id] = line
                self._latest_bytes += len(line)
        if self._size > MIN_COMPACT_BYTES and self._size > 2 * self._latest_bytes:
            try:
                self._compact()
            except OSError:  # the batch is durable all the same; the journal grows until a later try works
                pass

    def _compact(self) -> None:
        """Snapshot the latest records, then empty the journal (safe in this order: replay is idempotent)."""
        write_atomic(self.snapshot_path, b"".join(self._latest.values()))
        _fsync_dir(self.snapshot_path.parent)  # the new snapshot is in place before the journal empties
        if self._fd is None:
            self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._size = 0

    def close(self) -> None:
        with self._cond:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
