"""serve-local's session records: the hand-written journal (group commit) against sqlite3 in WAL mode.

Why: core/local/journal.py is 200 lines of hand-written durability; sqlite3 is in the standard
library. This measures whether the simpler store would lose on the load the create bench puts on
serve-local, and whether either loses an acknowledged record under ``kill -9``.

The load, as core/local/scheduler.py writes it: ``--threads`` request threads at once; each create
writes one new record (the JSON serve-local keeps, ~300 bytes) and is answered only once the write
is durable; then every record gets ``--updates`` state changes (Pending -> Running -> ...), each a
new version of the whole record, also waited for. Backends, each in a fresh folder on the same disk:

* journal        - core.local.journal.Journal: append, then ``sync`` (one ``fdatasync`` per batch of
                   concurrent changes);
* sqlite-normal  - one connection behind a lock, WAL, ``synchronous=NORMAL``: a commit does not fsync
                   (safe against kill -9, not against a power cut);
* sqlite-full    - the same with ``synchronous=FULL``: an fsync per commit, the journal's guarantee.

Then durability: a child process writes records on ``--threads`` threads and prints each one it was
acknowledged; it is SIGKILLed after a random number of acknowledgements; the parent re-opens the
store and checks that every acknowledged version (or a newer one) is there. ``--kills`` rounds each.

Run: ``.venv/bin/python bench/bench_store.py [--threads 32] [--records 2000] [--updates 2] [--kills 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from srcnet_tui.core.local.journal import Journal
from srcnet_tui.core.local.store import Store


class JournalStore:
    """The store serve-local uses today."""

    def __init__(self, root: Path):
        self.journal = Journal(root)
        self.journal.restart({sid: Store.encode(record) for sid, record in self.journal.load().items()})

    def put(self, record: dict) -> None:
        self.journal.sync(self.journal.append(record["id"], Store.encode(record)))

    def close(self) -> None:
        self.journal.close()

    @staticmethod
    def versions(root: Path) -> dict[str, int]:
        return {sid: record["version"] for sid, record in Journal(root).load().items()}


class SqliteStore:
    """What serve-local would use instead: one table, one connection, WAL."""

    synchronous = "NORMAL"

    def __init__(self, root: Path):
        self.lock = threading.Lock()
        self.db = sqlite3.connect(root / "records.sqlite", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={self.synchronous}")
        self.db.execute("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL)")

    def put(self, record: dict) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO records VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version, data = excluded.data",
                (record["id"], record["version"], Store.encode(record)),
            )

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def versions(root: Path) -> dict[str, int]:
        db = sqlite3.connect(root / "records.sqlite")
        try:
            return dict(db.execute("SELECT id, version FROM records").fetchall())
        finally:
            db.close()


class SqliteFullStore(SqliteStore):
    synchronous = "FULL"


BACKENDS: dict[str, type[JournalStore] | type[SqliteStore]] = {
    "journal": JournalStore,
    "sqlite-normal": SqliteStore,
    "sqlite-full": SqliteFullStore,
}


def session_record(session_id: str, version: int) -> dict:
    """A record shaped like the ones core/local/scheduler.py keeps."""
    return {
        "id": session_id,
        "seq": version,
        "name": f"bench-{session_id}",
        "image": "images.canfar.net/skaha/terminal:1.1.2",
        "type": "headless",
        "cmd": "sleep",
        "args": ["3600"],
        "env": [["SRCNET_CREATE_ID", f"create-{session_id}"]],
        "cores": 2,
        "ram": 4,
        "gpus": 0,
        "created": time.time(),
        "state": ("Pending", "Running", "Completed")[min(version - 1, 2)],
        "events": [["Normal", "Scheduled", "Successfully assigned"]] * (version - 1),
        "version": version,
    }


def run_threads(threads: int, work: Callable[[int], None]) -> None:
    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


# --- throughput and latency ---------------------------------------------------------------


def measure(backend: str, threads: int, records: int, updates: int) -> dict:
    """Creates then updates on ``threads`` threads; each operation returns once durable."""
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="srcnet-bench-store-") as tmp:
        store = BACKENDS[backend](Path(tmp))

        def work(index: int) -> None:
            mine = [f"s{n:06d}" for n in range(index, records, threads)]
            timed = []
            for version in range(1, updates + 2):
                for session_id in mine:
                    started = time.perf_counter()
                    store.put(session_record(session_id, version))
                    timed.append(time.perf_counter() - started)
            latencies.extend(timed)

        wall, cpu = time.perf_counter(), time.process_time()
        run_threads(threads, work)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        store.close()
    latencies.sort()
    return {
        "ops": len(latencies),
        "wall_s": wall,
        "ops_per_s": len(latencies) / wall,
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "cpu_ms_per_op": cpu / len(latencies) * 1000,
    }


# --- durability under kill -9 ---------------------------------------------------------------


def child_writes_forever(backend: str, root: Path, threads: int) -> None:
    """Write records on ``threads`` threads, printing ``id version`` once each is acknowledged."""
    store = BACKENDS[backend](root)
    printing = threading.Lock()

    def work(index: int) -> None:
        for n in range(1 << 30):
            session_id, version = f"t{index:02d}-{n // 3:07d}", n % 3 + 1
            store.put(session_record(session_id, version))
            with printing:
                sys.stdout.write(f"{session_id} {version}\n")
                sys.stdout.flush()

    run_threads(threads, work)


def kill_round(backend: str, threads: int, rng: random.Random) -> tuple[int, int]:
    """One child SIGKILLed mid-stream; returns (acknowledged writes, records that lost one)."""
    with tempfile.TemporaryDirectory(prefix="srcnet-bench-store-kill-") as tmp:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", backend, tmp, "--threads", str(threads)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        acked: dict[str, int] = {}
        writes, kill_after = 0, rng.randint(50, 3000)
        for line in child.stdout:
            session_id, version = line.split()
            acked[session_id] = max(acked.get(session_id, 0), int(version))
            writes += 1
            if writes == kill_after:
                os.kill(child.pid, signal.SIGKILL)
        if child.wait() != -signal.SIGKILL:
            raise RuntimeError(f"the {backend} writer ended by itself (status {child.returncode})")
        found = BACKENDS[backend].versions(Path(tmp))
    lost = sum(1 for session_id, version in acked.items() if found.get(session_id, 0) < version)
    return writes, lost


def durability(backend: str, threads: int, kills: int) -> dict:
    rng = random.Random(2026)
    rounds = [kill_round(backend, threads, rng) for _ in range(kills)]
    return {"rounds": kills, "acknowledged": sum(a for a, _ in rounds), "lost": sum(lost for _, lost in rounds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_writes_forever(args.child[0], Path(args.child[1]), args.threads)
        return 0
    backends = args.backends.split(",")
    print(
        f"{args.threads} threads, {args.records} records x (1 create + {args.updates} updates); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; folders in {tempfile.gettempdir()}"
    )
    print(
        f"{'backend':15s}{'ops/s':>8s}{'median ms':>11s}{'p99 ms':>8s}{'CPU ms/op':>11s}{'kill -9: acked writes':>24s}{'lost':>6s}"
    )
    for backend in backends:
        speed = measure(backend, args.threads, args.records, args.updates)
        crash = durability(backend, args.threads, args.kills)
        print(
            f"{backend:15s}{speed['ops_per_s']:8.0f}{speed['median_ms']:11.2f}{speed['p99_ms']:8.2f}"
            f"{speed['cpu_ms_per_op']:11.3f}{crash['acknowledged']:24d}{crash['lost']:6d}"
        )
        print(json.dumps({"backend": backend, **speed, **crash}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
