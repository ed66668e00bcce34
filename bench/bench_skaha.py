"""Benchmark the Skaha client against serve-local: list 1,000 sessions; create 200 at 50 ms latency.

Run: ``.venv/bin/python bench/bench_skaha.py``. Prints two figures:

* the time to list 1,000 sessions (median of several ``GET /session`` calls, parsing included);
* the time to create 200 sessions (one ``create`` with 200 replicas, including the duplicate
  guard's listing, on a warm client: discovery cached, connections open) with 50 ms injected
  server latency, as a ratio to the ideal 200 × 50 ms / concurrency. Target: ratio ≤ 1.5.

Each part uses its own throw-away state folder and a serve-local started here and stopped at the
end. Sessions ask for more cores than the server offers at once, so they stay Pending and cost
no processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcnet_tui.core.skaha import LaunchSpec, SkahaClient  # noqa: E402

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"
TOKEN = "bench-token"


@contextmanager
def serve_local(*options: str):
    """A serve-local subprocess in a fresh state folder; yields its base URL; stops it and its sessions."""
    with tempfile.TemporaryDirectory(prefix="srcnet-bench-") as state:
        command = [
            sys.executable,
            "-m",
            "srcnet_tui.core.cli",
            "--state-dir",
            state,
            "serve-local",
            "--port",
            "0",
            "--token",
            TOKEN,
            "--cores",
            "1",
            "--ram-gb",
            "4",
            *options,
        ]
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield _wait_for_url(Path(state) / "local" / "server.json", proc), psutil.Process(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


def _wait_for_url(server_json: Path, proc: subprocess.Popen, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve-local exited with {proc.returncode}")
        try:
            info = json.loads(server_json.read_text())
            if info.get("pid") == proc.pid:
                return info["url"]
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise SystemExit("serve-local did not start")


def pending_spec(name: str, replicas: int) -> LaunchSpec:
    # One core each on a server that offers one at once: all but one stay Pending (no process each).
    return LaunchSpec(name, IMAGE, cmd="sleep", args=["600"], cores=1, ram=1, replicas=replicas)


async def delete_and_wait(client: SkahaClient, ids: list[str], timeout_s: float = 60.0) -> None:
    """Delete, then wait until the sessions are gone (so stopping the server leaves no process)."""
    await client.delete_all(ids)
    doomed, deadline = set(ids), time.monotonic() + timeout_s
    while doomed & {s.id for s in await client.list_sessions()}:
        if time.monotonic() > deadline:
            raise SystemExit(f"sessions still listed {timeout_s:g} s after delete")
        await asyncio.sleep(0.1)


async def bench_list(count: int, repeats: int) -> float:
    with serve_local() as (url, _server):
        async with SkahaClient(url, token=TOKEN) as client:
            made = 0
            while made < count:
                batch = min(500, count - made)
                await client.create(pending_spec(f"list-{made}", batch))
                made += batch
            sessions = await client.list_sessions()
            assert len(sessions) == count, len(sessions)
            timings = []
            for _ in range(repeats):
                started = time.perf_counter()
                await client.list_sessions()
                timings.append(time.perf_counter() - started)
            await delete_and_wait(client, [s.id for s in sessions])
    return statistics.median(timings)


def cpu_seconds(*processes: psutil.Process) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in processes))


async def bench_create(count: int, latency_ms: float, concurrency: int, repeats: int):
    """Seconds per ``create`` of ``count`` replicas, ``repeats`` times on one warm client; seconds
    per ``count`` concurrent reads (no durable write on the server: the client's share); and the
    CPU seconds per create spent by this client and by the server (to read the figures under load)."""
    with serve_local("--fault-latency-ms", str(latency_ms)) as (url, server):
        async with SkahaClient(url, token=TOKEN, concurrency=concurrency) as client:
            # Warm-up as a long-lived client (the TUI) would be: discovery cached, connections open.
            await delete_and_wait(client, await client.create(pending_spec("warm", concurrency)))
            timings, client_cpu, server_cpu = [], 0.0, 0.0
            for run in range(repeats):
                cpu_before = cpu_seconds(psutil.Process()), cpu_seconds(server)
                started = time.perf_counter()
                ids = await client.create(pending_spec(f"create{run}", count))
                timings.append(time.perf_counter() - started)
                client_cpu += cpu_seconds(psutil.Process()) - cpu_before[0]
                server_cpu += cpu_seconds(server) - cpu_before[1]
                assert len(set(ids)) == count
                await delete_and_wait(client, ids)
            reads = []
            for _ in range(repeats):
                started = time.perf_counter()
                await asyncio.gather(*(client.context() for _ in range(count)))
                reads.append(time.perf_counter() - started)
    return timings, reads, client_cpu / repeats, server_cpu / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000, help="sessions to list (default 1000)")
    parser.add_argument("--creates", type=int, default=200, help="sessions to create (default 200)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="injected latency (default 50)")
    parser.add_argument("--concurrency", type=int, default=32, help="client concurrency (default 32)")
    parser.add_argument("--repeats", type=int, default=7, help="list calls to take the median of")
    parser.add_argument("--repeats-create", type=int, default=5, help="timed creates (after one warm-up)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    listed = asyncio.run(bench_list(args.sessions, args.repeats))
    print(f"list {args.sessions} sessions: {listed * 1000:.0f} ms (median of {args.repeats})")
    timings, reads, client_cpu, server_cpu = asyncio.run(
        bench_create(args.creates, args.latency_ms, args.concurrency, args.repeats_create)
    )
    ideal = args.creates * args.latency_ms / 1000.0 / args.concurrency
    median, best = statistics.median(timings), min(timings)
    print(
        f"create {args.creates} sessions at {args.latency_ms:g} ms latency, concurrency {args.concurrency}: "
        f"median {median:.3f} s, best {best:.3f} s of {len(timings)}; ideal {ideal:.3f} s; "
        f"ratio median {median / ideal:.2f}, best {best / ideal:.2f} (target <= 1.5)"
    )
    print(
        f"  control, {args.creates} concurrent reads (GET context) on the same client: "
        f"median {statistics.median(reads):.3f} s, ratio {statistics.median(reads) / ideal:.2f}"
    )
    print(
        f"  CPU per create: client {client_cpu:.2f} s, server {server_cpu:.2f} s; "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before the run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
