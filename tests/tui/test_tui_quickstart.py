"""The issue's "done when", as a new user does it at 80×24: the quickstart workload launched from the
Runs pane, watched in Sessions while the local daemon dies and comes back, its usage when it ends."""

from __future__ import annotations

import pytest
from tui_support import app_for, notifications, screen_text, wait_until

from srcnet_tui.core.runs.quickstart import make_example
from srcnet_tui.tui.screens.modals import ConfirmModal, PromptModal

pytest.importorskip("bdsf")


async def test_quickstart_run_from_the_runs_pane_survives_a_daemon_crash(local_server_factory, tmp_path):
    server = local_server_factory(cores=1)  # four one-core tasks run one by one: the others wait, Pending
    example = make_example(tmp_path / "quickstart", size=256, sources=8)
    app = app_for(server, start_pane="runs")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        runs = app.query_one("#runs-pane")
        await wait_until(pilot, lambda: runs.ledger.has_focus)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
        app.screen.query_one("Input").value = str(example.config)
        await pilot.press("enter")
        await wait_until(pilot, lambda: runs.form.plan is not None, timeout_s=20, message="the plan of [quickstart]")
        assert len(runs.form.plan.tasks) == 4 and "4 tasks" in screen_text(app)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Launch 4 sessions (1 core" in app.screen._body and "saved" not in app.screen._body
        await pilot.press("y")

        sessions = app.query_one("#sessions-table")

        def truthful() -> bool:
            """The ledger row counts Pending sessions as waiting and started ones as running."""
            run = next(iter(runs.ledger.runs.values()), None)
            statuses = [s.status for s in sessions.sessions.values()]
            if run is None or "Pending" not in statuses:
                return False
            progress = runs.ledger.progress(run)
            return progress.running == statuses.count("Running") and progress.waiting >= statuses.count("Pending")

        await wait_until(pilot, truthful, timeout_s=30, message="a run with running and pending sessions")
        run_id = next(iter(runs.ledger.runs))
        await pilot.press("s")  # its sessions, in the Sessions pane
        await wait_until(pilot, lambda: app.query_one("#panes").active == "sessions" and sessions.filter_text == run_id)
        assert sessions.row_count + sessions.hidden_finished == 4
        server.kill()  # the local daemon dies mid-run; the app restarts it and the run is taken up again
        await wait_until(pilot, lambda: "stale since" in screen_text(app), timeout_s=20, message="the stale marker")
        await pilot.press("1")
        await wait_until(pilot, lambda: runs.ledger.has_focus, message="the Runs pane")
        await wait_until(pilot, lambda: runs.ledger.runs[run_id].phase == "done", timeout_s=60, message="the run to end")
        assert runs.ledger.progress(runs.ledger.runs[run_id]).done == 4
        said = notifications(app)
        assert any(f"Run {run_id} lost the platform" in n for n in said) and f"Resuming {run_id}…" in said

        await pilot.press("u")
        usage = app.query_one("#usage-pane")
        await wait_until(
            pilot, lambda: usage.report is not None and len(usage.report["runs"]) == 4, timeout_s=20, message="the run's usage"
        )
        assert all(row["cores"] == 1 and row["efficiency"] is not None for row in usage.report["runs"])
        app.clear_notifications()
        await wait_until(pilot, lambda: "cores as requested" in screen_text(app))
        assert f"run {run_id} · 4 tasks" in screen_text(app) and "CPU % of one core" in screen_text(app)
