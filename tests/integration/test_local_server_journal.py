"""The local server's record journal: group commit, replay after crashes, compaction, failed writes,
idempotent creates, and records kept in the per-session layout of earlier versions."""

from __future__ import annotations

import errno
import json
import os
import threading
import time

import pytest
from test_local_server import IMAGE, create, wait_status

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.local import journal as journal_module
from srcnet_tui.core.local.journal import Journal


def line(session_id: str, version: int, **fields) -> bytes:
    return (json.dumps({"id": session_id, "version": version, **fields}) + "\n").encode()


@pytest.fixture
def journal(tmp_path):
    made = Journal(tmp_path)
    made.restart({})
    yield made
    made.close()


def test_concurrent_changes_share_one_flush_and_all_are_durable(journal, tmp_path, monkeypatch):
    flushes = []
    real = os.fdatasync

    def slow_disk(fd):
        flushes.append(fd)
        time.sleep(0.005)  # a disk that takes 5 ms per flush: the cost group commit shares
        real(fd)

    monkeypatch.setattr(journal_module.os, "fdatasync", slow_disk)
    start = threading.Barrier(32)

    def one(i):
        start.wait()
        journal.sync(journal.append(f"s{i}", line(f"s{i}", 1)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(flushes) < 16, f"{len(flushes)} flushes for 32 concurrent changes"
    assert set(Journal(tmp_path).load()) == {f"s{i}" for i in range(32)}


def test_replay_keeps_the_newest_version_and_forgets_for_good(tmp_path):
    (tmp_path / journal_module.SNAPSHOT).write_bytes(line("a", 2, state="Running") + line("b", 1))
    (tmp_path / journal_module.JOURNAL).write_bytes(
        line("a", 1, state="Pending") + line("a", 3, state="Completed") + b'{"id": "b", "forgotten": true}\n' + line("b", 1)
    )
    records = Journal(tmp_path).load()
    assert records == {"a": {"id": "a", "version": 3, "state": "Completed"}}


def test_a_torn_last_line_is_dropped_but_a_corrupt_middle_line_is_an_error(tmp_path):
    (tmp_path / journal_module.JOURNAL).write_bytes(line("a", 1) + b'{"id": "b", "vers')
    assert set(Journal(tmp_path).load()) == {"a"}
    (tmp_path / journal_module.JOURNAL).write_bytes(b"{not json\n" + line("a", 1))
    with pytest.raises(UsageError, match=r"journal.jsonl: unreadable local-server state at line 1"):
        Journal(tmp_path).load()


def test_the_journal_is_compacted_into_the_snapshot(journal, tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "MIN_COMPACT_BYTES", 2000)
    for version in range(1, 200):
        journal.sync(journal.append("a", line("a", version, pad="x" * 50)))
    assert (tmp_path / journal_module.JOURNAL).stat().st_size <= 4000
    assert Journal(tmp_path).load()["a"]["version"] == 199


def test_a_failed_write_reaches_its_waiters_and_leaves_the_journal_readable(journal, tmp_path, monkeypatch):
    journal.sync(journal.append("a", line("a", 1)))
    real_write = os.write

    def disk_full(fd, data):
        real_write(fd, data[:7])  # half a line reached the file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", disk_full)
    with pytest.raises(OSError, match="No space"):
        journal.sync(journal.append("b", line("b", 1)))
    monkeypatch.setattr(journal_module.os, "write", real_write)
    journal.sync(journal.append("c", line("c", 1)))
    assert set(Journal(tmp_path).load()) == {"a", "c"}


def test_a_resent_create_with_the_same_create_id_gets_the_first_session(local_server):
    with local_server.client() as c:
        first = create(c, "once", args="-c pass", env="SRCNET_CREATE_ID=4f1c").strip()
        again = create(c, "once", args="-c pass", env="SRCNET_CREATE_ID=4f1c").strip()
        other = create(c, "once", args="-c pass", env="SRCNET_CREATE_ID=77aa").strip()
        assert first == again != other
        assert sorted(s["id"] for s in c.get("session").json()) == sorted({first, other})


def test_records_of_the_per_session_layout_are_taken_over(local_server_factory, state_dir):
    server = local_server_factory(state_dir=state_dir)
    with server.client() as c:
        sid = create(c, "older", args="-c pass").strip()
        wait_status(c, sid, "Completed")
    server.stop()
    local = state_dir / "local"
    (local / "meta" / sid / "session.json").write_text(json.dumps(Journal(local).load()[sid]))
    (local / journal_module.SNAPSHOT).unlink()
    (local / journal_module.JOURNAL).write_bytes(b"")

    again = local_server_factory(state_dir=state_dir)
    with again.client() as c:
        session = c.get(f"session/{sid}").json()
        assert session["status"] == "Completed" and session["name"] == "older" and session["image"] == IMAGE
    assert not (local / "meta" / sid / "session.json").exists()
    assert sid in Journal(local).load()


def test_a_crash_between_snapshot_and_emptying_the_journal_loses_nothing(journal, tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "MIN_COMPACT_BYTES", 500)
    journal.sync(journal.append("gone", line("gone", 1)))
    journal.sync(journal.append("gone", None))

    def crash(fd, size):
        raise OSError(errno.EIO, "the process died here")

    monkeypatch.setattr(journal_module.os, "ftruncate", crash)
    for version in range(1, 40):
        journal.sync(journal.append("a", line("a", version, pad="x" * 50)))
    assert (tmp_path / journal_module.SNAPSHOT).stat().st_size > 0  # new snapshot written, journal still full
    assert Journal(tmp_path).load() == {"a": {"id": "a", "version": 39, "pad": "x" * 50}}
