"""Snapshots of every pane (pytest-textual-snapshot) with the clock, ids and data pinned."""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES
from tui_snapshot_data import pinned_app
from tui_support import screen_text, wait_until

SEED = FIXTURES / "seed"
PROFILES = FIXTURES / "profiles"


@pytest.fixture(autouse=True)
def pinned_world(tmp_path, monkeypatch):
    """Same user and same relative paths on every machine."""
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    monkeypatch.chdir(tmp_path)
    # conftest's isolated environment drops the variable the snapshot plugin set at session start
    if "TEXTUAL_SNAPSHOT_TEMPDIR" not in os.environ:
        monkeypatch.setenv("TEXTUAL_SNAPSHOT_TEMPDIR", tempfile.mkdtemp(prefix="snapshot-report-"))


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)


SIZES = pytest.mark.parametrize("size", [(80, 24), (100, 40)], ids=["80x24", "100x40"])


async def sessions_listed(pilot) -> None:
    await wait_until(pilot, lambda: len(pilot.app.query_one("#sessions-table").sessions) == 8)
    await wait_until(pilot, lambda: pilot.app.query_one("#sessions-table").has_focus)
    await wait_until(pilot, lambda: "queued:" in pilot.app.query_one("#sessions-table").reasons.get("s004pin4", ""))


@SIZES
def test_sessions_pane(snap_compare, tmp_path, size):
    async def ready(pilot):
        await sessions_listed(pilot)
        await pilot.press("down", "space", "down", "down")

    assert snap_compare(pinned_app(tmp_path / "state"), terminal_size=size, run_before=ready)


@SIZES
def test_logs_pane_searched(snap_compare, tmp_path, size):
    async def ready(pilot):
        await sessions_listed(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: pilot.app.query_one("#logs-pane").view.line_count == 60)
        await pilot.press("slash", *"region 2", "enter")
        await pilot.pause(0.3)

    assert snap_compare(pinned_app(tmp_path / "state"), terminal_size=size, run_before=ready)


@SIZES
def test_runs_pane(snap_compare, tmp_path, size):
    project = tmp_path / "project"
    (project / "parameter_files").mkdir(parents=True)
    shutil.copy(SEED / "config.ini", project)
    (project / "sofia_test_datacube.fits").write_bytes(b"")
    for i in range(3):
        shutil.copy(SEED / "sofia.par", project / "parameter_files" / f"sofia_{i}.par")
    cube = tmp_path / "state" / "arc" / "projects" / "WALLABY_test" / "mw" / "norma.image.fits"  # the seed's /arc cube
    cube.parent.mkdir(parents=True)
    cube.write_bytes(b"")

    async def ready(pilot):
        pane = pilot.app.query_one("#runs-pane").form
        pane.open_config(Path("project/config.ini"))
        await wait_until(pilot, lambda: pane.draft is not None)
        field = pilot.app.query_one("#field-cores")
        field.value = "4"
        await wait_until(pilot, lambda: pane.plan is not None and pane.plan.tasks[0].cores == 4)
        pilot.app.query_one("#runs-ledger").focus()
        await pilot.pause(0.3)

    assert snap_compare(pinned_app(tmp_path / "state", start_pane="runs"), terminal_size=size, run_before=ready)


@SIZES
def test_usage_pane(snap_compare, tmp_path, size):
    shutil.copytree(PROFILES, tmp_path / "profiles")

    async def ready(pilot):
        pane = pilot.app.query_one("#usage-pane")
        pane.cores = 2
        pane.open_paths([Path("profiles")])
        await wait_until(pilot, lambda: pane.report is not None and "% requested" in screen_text(pilot.app))
        await pilot.pause(0.3)

    assert snap_compare(pinned_app(tmp_path / "state", start_pane="usage"), terminal_size=size, run_before=ready)


@SIZES
def test_help_screen(snap_compare, tmp_path, size):
    assert snap_compare(pinned_app(tmp_path / "state"), terminal_size=size, press=["question_mark"])
