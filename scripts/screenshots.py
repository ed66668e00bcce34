"""Regenerate screenshots/*.svg: every pane of the app, drawn from a real local run.

Starts the local server in a throw-away state folder, launches real sessions (a profiled CPU burner,
a counter writing its log, a parallel run from the seed's config.ini through the Runs pane), drives
the app headlessly with key presses, saves one SVG per pane, then deletes the sessions and stops
the server. Run: ``.venv/bin/python scripts/screenshots.py [OUT_DIR]``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.local import daemon  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.skaha import LaunchSpec  # noqa: E402
from tui.app import SrcnetApp  # noqa: E402

SEED = ROOT.parent / "shared" / "fixtures" / "seed"
IMAGE = "images.canfar.net/skaha/terminal:1.1.2"
SIZE = (100, 40)
BURN = "import time\nend = time.time() + 6\nx = 0\nwhile time.time() < end:\n    x += 1\n"
COUNT = "import time\nfor i in range(400):\n    print(f'step {i}: chunk {i % 7} done, {i * 13 % 997} sources so far', flush=True)\n    time.sleep(0.05)\n"


def project(folder: Path) -> Path:
    """The seed's config.ini with the files it names (a stand-in cube, three parameter files)."""
    (folder / "parameter_files").mkdir(parents=True)
    shutil.copy(SEED / "config.ini", folder)
    (folder / "sofia_test_datacube.fits").write_bytes(b"")
    for i in range(3):
        shutil.copy(SEED / "sofia.par", folder / "parameter_files" / f"sofia_{i}.par")
    return folder / "config.ini"


async def wait_for(pilot, condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("screenshots: timed out waiting for the app")
        await pilot.pause(0.1)


async def launch_sessions(app: SrcnetApp, work: Path) -> tuple[str, Path]:
    """A profiled CPU burner and a chatty counter; the counter's id and the profile's folder."""
    (work / "burn.py").write_text(BURN)
    (work / "count.py").write_text(COUNT)
    profiles = work / "profiles"
    profiles.mkdir()
    client = await app.platform.client()
    record = ["-m", "core.recorder", "--log", str(profiles / "burner.csv"), "--interval", "0.2", "--", "python", str(work / "burn.py")]
    await client.create(LaunchSpec(name="profiled-burner", image=IMAGE, cmd="python", args=record, cores=1, ram=1))
    (counter,) = await client.create(LaunchSpec(name="counter", image=IMAGE, cmd="python", args=[str(work / "count.py")], cores=1, ram=1))
    await client.create(LaunchSpec(name="sleeper", image=IMAGE, cmd="sleep", args=["120"], cores=1, ram=1, replicas=2))
    return counter, profiles


async def shoot(out: Path, work: Path) -> None:
    settings = Settings("local", None, None, None, work / "state", "screenshots")
    app = SrcnetApp(settings, poll_interval=0.5, keymap={}, start_pane="runs")
    async with app.run_test(size=SIZE) as pilot:
        counter, profiles = await launch_sessions(app, work)
        runs = app.query_one("#runs-pane")
        runs.open_config(project(Path("project")).resolve())
        await wait_for(pilot, lambda: runs.draft is not None)
        for key, value in (("cores", "1"), ("ram", "1"), ("name", "sofia-demo")):
            app.query_one(f"#field-{key}").value = value
        await wait_for(pilot, lambda: runs.plan is not None and runs.plan.tasks[0].cores == 1)
        runs.launch()
        await wait_for(pilot, lambda: app.query_one("#runs-ledger").row_count == 1)
        app.query_one("#runs-ledger").focus()
        await pilot.pause(1.0)
        app.save_screenshot("runs.svg", str(out))

        app.show_pane("sessions")
        table = app.query_one("#sessions-table")
        await wait_for(pilot, lambda: len(table.sessions) >= 7)
        await pilot.pause(1.5)
        table.move_cursor_to(counter)
        await pilot.press("space")
        app.save_screenshot("sessions.svg", str(out))

        table.move_cursor_to(counter)
        await pilot.press("l")
        logs = app.query_one("#logs-pane")
        await wait_for(pilot, lambda: logs.view.line_count > 60)
        app.save_screenshot("logs.svg", str(out))

        usage = app.query_one("#usage-pane")
        app.show_pane("usage")
        await pilot.pause(1.0)
        app.save_screenshot("usage-live.svg", str(out))
        await wait_for(pilot, lambda: (profiles / "burner.csv").exists() and any(profiles.glob("*.json")), timeout_s=60)
        usage.cores = 1
        usage.open_paths([profiles.relative_to(work)])
        await wait_for(pilot, lambda: usage.report is not None)
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
