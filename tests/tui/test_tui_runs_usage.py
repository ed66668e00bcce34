"""Runs pane (config editing validated by core, plan preview, launch, ledger) and Usage pane."""

from __future__ import annotations

from conftest import FIXTURES
from tui_support import app_for, notifications, screen_text, seed_folder, wait_until

from srcnet_tui.core.usage import aggregate, load
from srcnet_tui.tui.screens.modals import ConfirmModal, ProblemModal, PromptModal

PROFILES = FIXTURES / "profiles"


async def type_into(pilot, app, selector: str, text: str) -> None:
    field = app.query_one(selector)
    field.focus()
    field.value = ""
    await wait_until(pilot, lambda: field.has_focus)  # a digit typed before that would switch panes
    await pilot.press(*text)


async def test_edit_validate_preview_and_launch_a_parallel_run(local_server, tmp_path):
    folder = seed_folder(tmp_path)
    cube = local_server.state_dir / "arc/projects/WALLABY_test/mw/norma.image.fits"  # the seed's /arc cube, locally
    cube.parent.mkdir(parents=True)
    cube.write_bytes(b"")
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        runs = app.query_one("#runs-pane")
        await wait_until(pilot, lambda: app.query_one("#runs-ledger").has_focus)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
        app.screen.query_one("Input").value = str(folder / "config.ini")
        await pilot.press("enter")
        await wait_until(pilot, lambda: runs.form.draft is not None and "sofia-parallel" in screen_text(app))
        await pilot.press("e")  # opening leaves the focus where it was; e edits
        await wait_until(pilot, lambda: app.query_one("#field-vos_dir").has_focus)
        await type_into(pilot, app, "#field-cores", "x")
        await wait_until(
            pilot, lambda: runs.form.problem == "config.ini [sofia-parallel] cores: must be a positive integer, not 'x'"
        )
        assert "cores: must be a" in screen_text(app)
        assert app.query_one("#field-cores").has_class("error") and runs.form.plan is None
        await type_into(pilot, app, "#field-cores", "1")
        await type_into(pilot, app, "#field-ram", "1")
        await wait_until(
            pilot, lambda: runs.form.plan is not None and runs.form.plan.tasks[0].cores == 1, message="the plan preview"
        )
        await wait_until(pilot, lambda: "2 tasks" in screen_text(app) and "sofia_1.par" in screen_text(app))
        assert [t.name for t in runs.form.plan.tasks] == ["sofia-parallel-preview-001", "sofia-parallel-preview-002"]
        app.query_one("#runs-ledger").focus()
        await pilot.press("o")  # opening another file would drop the edits: asked first
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal) and "not saved" in app.screen._body)
        await pilot.press("n")
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Launch 2 sessions (1 core, 1 GiB RAM each)" in app.screen._body and "saved to the file first" in app.screen._body
        await pilot.press("y")
        await wait_until(
            pilot, lambda: app.query_one("#runs-ledger").row_count == 1, timeout_s=30, message="the run in the ledger"
        )
        assert "cores = 1" in (folder / "config.ini").read_text()
        assert "[sofia-task]" in (folder / "config.ini").read_text()  # the other section is kept
        sessions = app.query_one("#sessions-table")
        await wait_until(pilot, lambda: len(sessions.sessions) == 2, timeout_s=30, message="the run's sessions")
        run = next(iter(runs.ledger.runs.values()))
        await pilot.press("enter")
        await wait_until(pilot, lambda: f"Run {run.id}" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: runs.ledger.runs[run.id].phase == "done", timeout_s=30, message="the run to end")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal) and run.id in app.screen._body)
        await pilot.press("y")
        await wait_until(pilot, lambda: any(f"Run {run.id}: 2 failed" in n for n in notifications(app)), timeout_s=30)
        await pilot.press("u")  # SoFiA is not installed here: the tasks failed before profiling anything
        await wait_until(pilot, lambda: any(f"Run {run.id} has no profile logs yet" in n for n in notifications(app)))


async def test_a_bad_config_is_a_modal_naming_the_problem(local_server, tmp_path):
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#runs-pane").form.open_config(tmp_path / "missing.ini")
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemModal))
        assert "missing.ini: no such configuration file" in app.screen._body.plain
        await wait_until(pilot, lambda: "Cannot open the configuration" in screen_text(app))


HAND_WRITTEN = """\
# demo run, edited by hand
[sofia-task]
vos_dir = /arc/home/demo
; the finder's input
image_file = cube.fits
parameter_file = demo.par
env = A=1,
    B=2
cores = 1
# more memory on the big node
ram = 2
"""


async def test_saving_an_edit_keeps_comments_and_continued_values(local_server, tmp_path):
    (tmp_path / "cube.fits").write_bytes(b"")
    (tmp_path / "demo.par").write_text("")
    path = tmp_path / "config.ini"
    path.write_text(HAND_WRITTEN)
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        runs = app.query_one("#runs-pane")
        await wait_until(pilot, lambda: app.query_one("#runs-ledger").has_focus)
        await pilot.press("t")
        await wait_until(pilot, lambda: "(task)" in screen_text(app))
        runs.form.open_config(path)
        await wait_until(
            pilot, lambda: runs.form.draft is not None and runs.form.problem is None and "✓ valid" in screen_text(app)
        )
        await pilot.press("e")  # opening leaves the focus where it was; e edits
        await wait_until(pilot, lambda: app.query_one("#field-vos_dir").has_focus)
        assert app.query_one("#field-env").value == "A=1, B=2"
        assert not runs.form.draft.edited  # showing a continued value on one line is not an edit
        await type_into(pilot, app, "#field-cores", "2")
        await wait_until(pilot, lambda: runs.form.plan is not None and runs.form.plan.tasks[0].cores == 2)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Saved [sofia-task] to" in screen_text(app))  # brackets shown, not markup
    assert path.read_text() == HAND_WRITTEN.replace("cores = 1", "cores = 2")


async def test_usage_pane_shows_aggregate_numbers_and_charts(local_server):
    expected = aggregate(load([PROFILES]).runs, cores=2)
    app = app_for(local_server, start_pane="usage")
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one("#usage-pane")
        await wait_until(pilot, lambda: pane.table.has_focus)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
        app.screen.query_one("Input").value = str(PROFILES)
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.report is not None)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
        app.screen.query_one("Input").value = "2"
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.report["total"].get("efficiency") is not None)
        assert pane.report == expected
        text = screen_text(app)
        assert "sofia_big_plain" in text and "151.3" in text and f"{expected['total']['efficiency'] * 100:.0f}%" in text
        assert "CPU % of one core (profiles)" in text and "Memory MiB (profiles)" in text
        pane.table.focus()
        await pilot.press("space")
        assert pane.charted_runs() == ["sofia_big_plain"]
        await pilot.press("v")
        await wait_until(pilot, lambda: "Cores in use (live" in screen_text(app))


def test_a_task_whose_session_ended_but_is_not_collected_yet_is_not_counted_running():
    """Seven launched tasks, one running, five ended before collection, one not seen yet: 1 running
    (the ledger once showed 7)."""
    from srcnet_tui.core.runs import ledger
    from srcnet_tui.tui.panes.runs_ledger import Progress, run_progress

    statuses = ["Running", "Completed", "Completed", "Completed", "Failed", "Completed", None]
    counts = {ledger.LAUNCHED: 7, ledger.PLANNED: 1, ledger.COMPLETED: 2}
    assert run_progress(counts, statuses) == Progress(waiting=2, running=1, done=6, failed=1)


async def test_a_runs_failed_tasks_show_their_causes_and_R_retries_them(
    tmp_path, state_dir, test_env, local_server_factory, cli, monkeypatch
):
    from runs_workspace import par_file, start_workspace

    config, server = start_workspace(
        tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5", "oops")
    )
    failed = cli("parallel", config, timeout=90)
    assert failed.returncode == 1, failed.stderr
    par_file(config.parent / "parameter_files" / "sofia_02.par", "3.5")  # the user fixes the parameter
    monkeypatch.setenv("PATH", test_env["PATH"])  # local sessions run with the PATH of their launcher: the app
    app = app_for(server, start_pane="runs")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        ledger = app.query_one("#runs-ledger")
        await wait_until(pilot, lambda: ledger.row_count == 1 and ledger.has_focus, timeout_s=30)
        [run_id] = ledger.runs
        await wait_until(
            pilot, lambda: "1 failed task · R retry · enter lists · task-002: exit 7: ERROR:" in screen_text(app), timeout_s=30
        )
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), timeout_s=30)
        assert "Retry 1 failed task of run" in app.screen._body and "attempt 2: 1 core, 1 GiB RAM" in app.screen._body
        assert "task-002: exit 7: ERROR: Failed to parse scfind.threshold" in app.screen._body
        await pilot.press("y")
        await wait_until(
            pilot, lambda: any(f"Run {run_id}: 2 completed" in n for n in notifications(app)), timeout_s=60, message="the retry"
        )
        await wait_until(pilot, lambda: "failed task" not in screen_text(app), timeout_s=30)
