"""The Usage charts: a legend beside the plots, round ticks, one colour per run whatever is marked, requested cores drawn."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES
from tui_snapshot_data import pinned_app
from tui_support import screen_text, wait_until

from srcnet_tui.tui.widgets.chart_style import ColourBook, round_ticks


def test_ticks_fall_on_round_values_covering_the_data():
    assert round_ticks(0, 206.5) == [0, 50, 100, 150, 200, 250]
    assert round_ticks(0, 5.0) == [0, 1, 2, 3, 4, 5]
    assert round_ticks(0, 5.03) == [0, 2, 4, 6]
    assert round_ticks(-118, 0) == [-150, -100, -50, 0]
    assert round_ticks(0, 0.37) == [0, 0.1, 0.2, 0.3, 0.4]


def test_a_name_keeps_its_colour_whatever_is_seen_after_it():
    book = ColourBook()
    book.learn(["a", "b", "c"])
    first = {name: book.colour(name) for name in "abc"}
    book.learn(["c", "z", "a"])
    assert {name: book.colour(name) for name in "abc"} == first and book.colour("z") not in first.values()


async def test_legend_sits_beside_the_plots_and_marking_a_run_keeps_every_colour(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES / "profiles", tmp_path / "profiles")
    app = pinned_app(tmp_path / "state", start_pane="usage")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#usage-pane")
        pane.cores = 2
        pane.open_paths([Path("profiles")])
        await wait_until(pilot, lambda: pane.report is not None and "% requested" in screen_text(app), message="the legend")
        cpu, mem = app.query_one("#usage-cpu"), app.query_one("#usage-mem")
        legend = app.query_one("#usage-legend")
        assert legend.region.x >= mem.region.right and legend.region.x >= cpu.region.right  # beside, not over
        names = [row["run"] for row in pane.report["runs"]]
        colours = {name: pane.colours.colour(name) for name in names}
        assert len(set(colours.values())) == len(names)
        text = screen_text(app)
        assert all(f"■ {name}" in text for name in names) and "200 % requested" in text
        peaks = [f"peak {row['cpu_peak_pct']:.0f} %" for row in pane.report["runs"]]
        assert all(peak in text for peak in peaks)
        pane.table.move_cursor(row=1)
        await pilot.press("space")  # chart only the second run
        await wait_until(pilot, lambda: f"■ {names[0]}" not in screen_text(app))
        assert f"■ {names[1]}" in screen_text(app)
        assert {name: pane.colours.colour(name) for name in names} == colours
        assert "250┤" in screen_text(app) or "200┤" in screen_text(app)  # round ticks on the CPU axis
