"""TUI benchmark: apply one poll of 2,000 and of 10,000 sessions, memory, time to first frame (issue 12's targets).

The app runs headless (``App.run_test``) with an in-process source of sessions parsed by core
(:func:`srcnet_tui.core.models.parse_sessions`), so the figures measure the TUI, not the network:

- **poll**: 2,000 (then 10,000) sessions in the table; each poll changes 1 % of them (status and
  usage, so rows also hide, show and re-sort); the time of :meth:`SessionsTable.apply` (targets
  ≤ 10 ms and ≤ 40 ms), and beside it that time plus the repaint that follows;
- **memory**: the process's RSS with 10,000 sessions and 100,000 lines in the log view (≤ 250 MB),
  measured first, in its own process;
- **first frame**: a fresh Python process importing and starting the app until its first screen
  is handed to the terminal (what the Runs pane needs, when another pane is shown first, loads
  right after), beside an empty Textual app's first frame measured the same way in the same run
  (≤ 0.5 s and ≤ 2 × the empty app).

Run: ``.venv/bin/python bench/bench_tui.py [--polls 30] [--log-lines 100000]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcnet_tui.core.credentials import CredentialStatus  # noqa: E402
from srcnet_tui.core.models import parse_sessions  # noqa: E402
from srcnet_tui.core.settings import Settings  # noqa: E402
from srcnet_tui.tui.app import SrcnetApp  # noqa: E402

NOW = datetime(2026, 11, 21, 6, 0, 0, tzinfo=UTC)
STATUSES = ("Running", "Pending", "Completed", "Failed")


def session_json(i: int, generation: int = 0) -> dict:
    status = STATUSES[(i + generation) % 4] if generation else STATUSES[i % 4]
    return {
        "id": f"b{i:07d}", "name": f"bench-run-{i // 100}-{i % 100 + 1}", "status": status, "type": "headless",
        "image": "images.canfar.net/srcnet/sofia-task:2.6.0", "userid": "bench", "startTime": "2026-11-20T06:00:00Z",
        "requestedCPUCores": "2", "requestedRAM": "8.59",
        "cpuCoresInUse": f"{(i * 7 + generation) % 200 / 100:.3f}", "ramInUse": f"{(i % 50) / 10 + generation % 3:.2f}",
    }  # fmt: skip


class StaticClient:
    def __init__(self, payload: list[dict]):
        self.payload = payload

    async def list_sessions(self, type=None, status=None):
        return parse_sessions(self.payload)

    async def context(self):
        return {}

    async def stats(self):
        return {}

    async def aclose(self):
        pass


class StaticPlatform:
    def __init__(self, payload):
        self._client = StaticClient(payload)

    async def client(self):
        return self._client

    async def credential(self):
        return CredentialStatus("local")

    async def aclose(self):
        pass


def bench_app(payload: list[dict], log_lines: int, state_dir: Path) -> SrcnetApp:
    settings = Settings("local", None, None, None, state_dir, "bench")
    return SrcnetApp(settings, platform=StaticPlatform(payload), clock=lambda: NOW, keymap={},
                     poll_interval=3600.0, log_max_lines=max(log_lines, 1))  # fmt: skip


async def measure_polls(sessions: int, polls: int, log_lines: int, state_dir: Path) -> dict:
    payload = [session_json(i) for i in range(sessions)]
    app = bench_app(payload, log_lines, state_dir)
    async with app.run_test(size=(100, 40)) as pilot:
        table = app.query_one("#sessions-table")
        while len(table.sessions) < sessions:
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        apply_ms, total_ms, cells = [], [], []
        changed_per_poll = max(1, sessions // 100)
        for generation in range(1, polls + 1):
            start = generation * changed_per_poll % sessions
            for i in range(start, start + changed_per_poll):
                payload[i % sessions] = session_json(i % sessions, generation)
            polled = parse_sessions(payload)  # parsing is the client's cost, measured by bench_skaha
            t0 = time.perf_counter()
            stats = table.apply(polled)
            t1 = time.perf_counter()
            await pilot.pause()  # let the repaint happen
            t2 = time.perf_counter()
            apply_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
            cells.append(stats.cells)
        logs = app.query_one("#logs-pane")
        line = "SoFiA 2.6.0 [region 12/48] source finding: smoothing kernel 3 x 3 x 3, threshold 3.8 sigma"
        for _ in range(0, log_lines, 10_000):
            logs.view.write_lines([line] * min(10_000, log_lines))
            await pilot.pause()
        await pilot.pause(0.5)
        rss_mb = psutil.Process().memory_info().rss / 1e6
        return {
            "apply_ms": statistics.median(apply_ms),
            "apply_p95_ms": sorted(apply_ms)[int(len(apply_ms) * 0.95) - 1],
            "with_repaint_ms": statistics.median(total_ms),
            "cells_per_poll": statistics.median(cells),
            "log_lines": logs.view.line_count,
            "rss_mb": rss_mb,
        }


FIRST_FRAME = """
import sys, time
started = float(sys.argv[1])
import asyncio
from pathlib import Path
from textual.app import App
painted = []
display = App._display
def first_paint(self, screen, renderable):
    if renderable is not None and not painted:
        painted.append(time.time() - started)
    display(self, screen, renderable)
App._display = first_paint  # the moment the first frame is handed to the terminal, for both apps alike
def build():
    if sys.argv[4] == "empty":
        return App()
    sys.path.insert(0, sys.argv[2])
    sys.path.insert(0, sys.argv[2] + "/bench")
    from bench_tui import bench_app
    return bench_app([], 1, Path(sys.argv[3]))
async def main():
    async with build().run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        print(painted[0])
asyncio.run(main())
"""


def measure_first_frames(state_dir: Path, repeats: int = 3) -> dict[str, float]:
    """Seconds from launching a fresh interpreter to the first painted frame, of srcnet-tui and of an
    empty Textual app (the baseline), best of a few runs taken in turn."""
    times: dict[str, list[float]] = {"srcnet": [], "empty": []}
    for _ in range(repeats):
        for which, measured in times.items():
            argv = [sys.executable, "-c", FIRST_FRAME, repr(time.time()), str(ROOT), str(state_dir), which]
            out = subprocess.run(argv, capture_output=True, text=True, check=True)
            measured.append(float(out.stdout.strip().splitlines()[-1]))
    return {which: min(measured) for which, measured in times.items()}


POLL_TARGETS_MS = {2_000: 10.0, 10_000: 40.0}
MEMORY_TARGET_MB = 250.0
FIRST_FRAME_TARGET_S, FIRST_FRAME_TARGET_RATIO = 0.5, 2.0


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def measure_in_own_process(sessions: int, polls: int, log_lines: int, state_dir: Path) -> dict:
    """:func:`measure_polls` in a fresh interpreter, so that its memory figure is its own."""
    code = f"import asyncio, json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); from bench_tui import measure_polls; "
    code += f"from pathlib import Path; print(json.dumps(asyncio.run(measure_polls({sessions}, {polls}, {log_lines}, Path({str(state_dir)!r})))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_poll(sessions: int, figures: dict) -> None:
    target = POLL_TARGETS_MS[sessions]
    print(
        f"one poll of {sessions:>6,} sessions, 1 % changing   {figures['apply_ms']:5.1f} ms median (p95 {figures['apply_p95_ms']:.1f} ms;"
        f" with repaint {figures['with_repaint_ms']:.0f} ms)   target <= {target:g} ms: {verdict(figures['apply_ms'] <= target)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--log-lines", type=int, default=100_000)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as temp:
        large = measure_in_own_process(10_000, args.polls, args.log_lines, Path(temp))
        small = measure_in_own_process(2_000, args.polls, 0, Path(temp))
        first = measure_first_frames(Path(temp))
    print_poll(2_000, small)
    print_poll(10_000, large)
    print(
        f"memory, 10,000 sessions + {large['log_lines']:,} log lines   {large['rss_mb']:.0f} MB RSS"
        f"   target <= {MEMORY_TARGET_MB:g} MB: {verdict(large['rss_mb'] <= MEMORY_TARGET_MB)}"
    )
    ratio = first["srcnet"] / first["empty"]
    met = first["srcnet"] <= FIRST_FRAME_TARGET_S and ratio <= FIRST_FRAME_TARGET_RATIO
    print(
        f"first frame   {first['srcnet']:.2f} s beside an empty Textual app's {first['empty']:.2f} s (same run) = {ratio:.2f} x"
        f"   target <= {FIRST_FRAME_TARGET_S:g} s and <= {FIRST_FRAME_TARGET_RATIO:g} x: {verdict(met)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
