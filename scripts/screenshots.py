"""Regenerate screenshots/*.svg: every pane of the app, drawn from a real, successful local run.

Writes the quickstart example (a synthetic radio image, PyBDSF, split into regions), starts the
local server in a throw-away state folder, opens the example's config.ini in the Runs pane and
launches it, then photographs each pane while the run goes on and after it ends: the Runs pane with
the run's progress, Sessions, the log of one task, live use, the run's usage, and help. Finally it
deletes the sessions and stops the server. Run: ``.venv/bin/python scripts/screenshots.py [OUT_DIR]``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcnet_tui.core.local import daemon  # noqa: E402
from srcnet_tui.core.runs.quickstart import make_example  # noqa: E402
from srcnet_tui.core.settings import Settings  # noqa: E402
from srcnet_tui.core.skaha_rules import RUNNING  # noqa: E402
from srcnet_tui.tui.app import SrcnetApp  # noqa: E402

SIZE = (100, 40)


async def wait_for(pilot, condition, timeout_s: float = 60.0, what: str = "the app") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.1)


def example(work: Path) -> Path:
    """The quickstart's config.ini, split 3×2, with PyBDSF told to say what it does (a log worth showing)."""
    config = make_example(work / "quickstart", grid=(3, 2), size=1536, sources=90).config
    with (config.parent / "bdsf.par").open("a") as par:
        par.write("quiet = False\n")
    return config


async def shoot(out: Path, work: Path) -> None:
    settings = Settings("local", None, None, None, work / "state", "screenshots")
    app = SrcnetApp(settings, poll_interval=0.5, keymap={}, start_pane="runs")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one("#runs-pane")
        form, runs = pane.form, pane.ledger
        form.open_config(example(work).relative_to(work))
        await wait_for(pilot, lambda: form.plan is not None, what="the plan")
        runs.launch(form.draft)
        table = app.query_one("#sessions-table")

        def running() -> list:
            return [s for s in table.sessions.values() if s.status == RUNNING and s.cores_in_use is not None]

        await wait_for(
            pilot, lambda: running() and runs.runs and runs.progress(next(iter(runs.runs.values()))).running, what="running tasks"
        )
        app.clear_notifications()
        app.show_pane("runs")
        await pilot.pause(0.5)
        app.save_screenshot("runs.svg", str(out))

        app.show_pane("sessions")
        await pilot.pause(0.5)
        table.move_cursor_to(running()[0].id)
        await pilot.press("space")
        app.save_screenshot("sessions.svg", str(out))

        followed = running()[-1]
        table.move_cursor_to(followed.id)
        await pilot.press("l")
        logs = app.query_one("#logs-pane")
        await wait_for(pilot, lambda: logs.view.line_count > 25, what="the log")
        app.save_screenshot("logs.svg", str(out))

        usage = app.query_one("#usage-pane")
        app.show_pane("usage")
        await wait_for(pilot, lambda: sum(len(h) > 4 for h in usage.live.values()) >= 3, what="live use")
        await pilot.pause(1.0)
        app.save_screenshot("usage-live.svg", str(out))

        run_id = next(iter(runs.runs))
        await wait_for(pilot, lambda: runs.runs[run_id].phase == "done", timeout_s=180, what="the run to end")
        app.clear_notifications()
        app.show_pane("runs")
        await pilot.press("u")
        await wait_for(pilot, lambda: usage.report is not None, what="the run's usage")
        await pilot.pause(0.5)
        app.save_screenshot("usage.svg", str(out))

        await pilot.press("question_mark")
        await pilot.pause(0.5)
        app.save_screenshot("help.svg", str(out))
        await pilot.press("escape")
        await clean_up(app)


async def clean_up(app: SrcnetApp) -> None:
    client = await app.platform.client()
    for session in await client.list_sessions():
        await client.delete(session.id)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="srcnet-screenshots-") as temp:
        work = Path(temp)
        os.chdir(work)  # the app shows paths relative to here: the same on every machine
        try:
            asyncio.run(shoot(out.resolve(), work))
        finally:
            daemon.stop(work / "state")
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
