"""The Sessions pane as a dashboard: use bars, causes from the ledger, finished hidden, failed first, run progress."""

from __future__ import annotations

from datetime import timedelta

from tui_snapshot_data import NOW, pinned_app
from tui_support import app_for, launch, screen_text, wait_until

from srcnet_tui.core.runs.ledger import FAILED, Ledger
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec
from srcnet_tui.tui.widgets.bars import state_bar, use_bar


def table(app):
    return app.query_one("#sessions-table")


def row_names(app) -> list[str]:
    t = table(app)
    return [t.sessions[t.coordinate_to_cell_key((r, 0)).row_key.value].name for r in range(t.row_count)]


async def test_failed_first_completed_hidden_behind_a_counted_toggle_and_runs_drawn_as_bars(local_server_factory):
    server = local_server_factory(cores=4, ram_gb=8)
    await launch(server, "batch-1", "sleep", "0.2")
    await launch(server, "batch-2", "false")
    await launch(server, "batch-3", "sleep", "60")
    await launch(server, "other-1", "sleep", "60")
    app = app_for(server)
    async with app.run_test(size=(80, 24)) as pilot:
        statuses = lambda: sorted(s.status for s in table(app).sessions.values())  # noqa: E731
        await wait_until(pilot, lambda: statuses() == ["Completed", "Failed", "Running", "Running"], message="settled")
        await wait_until(pilot, lambda: table(app).row_count == 3)
        assert row_names(app) == ["batch-2", "batch-3", "other-1"]  # failed first, completed hidden
        text = screen_text(app)
        assert "1 completed hidden (a shows)" in text
        assert "Name ▲" in text
        assert "all 2 runs" in text and "1/4 done" in text and "batch" in text and "1/3 done  1 run  1 fail" in text
        assert "/1G" not in text and "/1 " in text  # RAM as requested (1 GiB), not 1.07 GB
        await pilot.press("a")
        assert row_names(app) == ["batch-2", "batch-1", "batch-3", "other-1"]
        await pilot.press("N")
        assert row_names(app) == ["batch-2", "other-1", "batch-3", "batch-1"]  # reversed, failed still first
        assert "Name ▼" in screen_text(app)
        await pilot.press("down", "space")
        assert "1 marked" in screen_text(app)
        assert "●" in screen_text(app)


async def test_finished_sessions_show_the_ledgers_exit_cause_and_duration_pending_ones_why(tmp_path):
    state = tmp_path / "state"
    outputs = TaskOutputs("/arc/r1/task-000", "r1_000", "profile.txt", "sofia.log", ())
    spec = TaskSpec(0, "sofia-20261121-5", None, "/arc/r1/a.par", 2, 8, [], outputs, "img:1")
    with Ledger(state) as ledger:
        ledger.create_run("r1", "task", [spec])
        ledger.mark_launching("r1", 0)
        ledger.mark_launched("r1", 0, "s005pin5")  # the pinned Failed session
        ledger.mark_finished("r1", 0, FAILED, exit_code=3, message="exit 3: cannot read the cube")
        ledger._db.execute("UPDATE tasks SET finished_at = ?", ((NOW + timedelta(minutes=7)).timestamp(),))
        ledger._db.commit()
    app = pinned_app(state)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "cannot read the cube" in screen_text(app), message="the ledger's cause")
        failed_row = next(line for line in screen_text(app).splitlines() if "sofia-20261121-5" in line)
        assert "Failed" in failed_row and "1h" not in failed_row and "37m" in failed_row  # started 05:30, ended 06:07
        pending_row = next(line for line in screen_text(app).splitlines() if "sofia-20261121-4" in line)
        assert "queued: room appears free" in pending_row


def test_use_bar_fills_in_half_cells_and_turns_red_near_the_request():
    assert use_bar(1.0, 2.0).plain == "██▌░░"
    assert use_bar(0.01, 2.0).plain == "▌░░░░"  # any use shows
    assert use_bar(None, 2.0).plain == "     "
    assert "red" in str(use_bar(1.9, 2.0).spans[0].style)
    assert use_bar(3.0, 2.0).plain == "█████"


def test_state_bar_gives_every_present_state_a_cell_and_fills_its_width():
    bar = state_bar({"Completed": 98, "Failed": 1, "Running": 1}, 20)
    assert bar.cell_len == 20 and bar.plain.count("█") == 20
    assert [span.style for span in bar.spans] == ["green", "red", "cyan"]
