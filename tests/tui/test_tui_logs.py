"""The Logs pane follows a real session's log: only new lines appended, follow toggling, cap, save."""

from __future__ import annotations

from rich.style import Style
from test_tui_keys import burst
from tui_support import app_for, launch, screen_text, wait_until

from srcnet_tui.core.skaha import SkahaClient
from srcnet_tui.tui.screens.modals import PromptModal
from srcnet_tui.tui.widgets.log_view import plain, printable, take_new_lines


def counting_script(folder, lines: int, pause_s: float):
    script = folder / "count.py"
    script.write_text(
        f"import sys, time\nfor i in range({lines}):\n    print(f'line {{i}}', flush=True)\n    time.sleep({pause_s})\n"
    )
    return script


def test_take_new_lines_keeps_partial_lines_for_later():
    assert take_new_lines("a\nb\npart", 0) == (["a", "b"], 4)
    assert take_new_lines("a\nb\npartial\n", 4) == (["partial"], 12)
    assert take_new_lines("a\nb\nend", 4, final=True) == (["end"], 7)
    assert take_new_lines("new\n", 12) == (["new"], 4)  # a shorter log was replaced: read from the start
    assert take_new_lines("a\n", 2) == ([], 2)


def test_lines_show_as_a_terminal_leaves_them():
    log = (
        "\x1b[31;1mWARNING\x1b[0m: plotting disabled\r\n 10%\r 55%\r100% done\nbell\x07 and\ttab\n[|] 0/2\b\b\b\b\b\b\b[=] 2/2\n"
    )
    lines = take_new_lines(log, 0)[0]
    assert lines == ["\x1b[31;1mWARNING\x1b[0m: plotting disabled", "100% done", "bell and\ttab", "[=] 2/2"]  # colours kept
    assert plain(lines[0]) == "WARNING: plotting disabled"
    assert printable("\x1b[2Kmoved \x1b]0;title\x07on") == "moved on"  # cursor and title escapes dropped
    bar = "Fitting : [|] 0/2\x1b[46G\x1b[1GFitting : [=] 2/2\x1b[46G"  # PyBDSF's bar goes back to column 1
    assert printable(bar) == "Fitting : [=] 2/2"


COLOURED_LOG = """
import time
print("\\x1b[31mERROR\\x1b[0m: the first error", flush=True)
for i in range(40):
    print(f"line {i}", flush=True)
print("spin |\\rspin /\\rspin done", flush=True)
print("\\x1b[1;32mok\\x1b[0m, a second Error", flush=True)
time.sleep(60)
"""


def styles_of(view, y: int, text: str) -> list:
    """The styles the view draws ``text`` of line ``y`` with."""
    strip = view._render_line_strip(y, Style())
    return [segment.style for segment in strip if text in segment.text]


async def test_colours_are_drawn_search_finds_and_highlights_and_the_title_follows_a_deletion(local_server, tmp_path):
    script = tmp_path / "coloured.py"
    script.write_text(COLOURED_LOG)
    sid = await launch(local_server, "painter", "python", str(script))
    app = app_for(local_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.query_one("#sessions-table").row_count == 1)
        await pilot.press("l")
        logs = app.query_one("#logs-pane")
        view = logs.view
        await wait_until(pilot, lambda: view.line_count == 43, message="all the lines")
        assert view.lines[0] == "ERROR: the first error" and view.lines[41] == "spin done"
        assert "\x1b" not in screen_text(app) and "[31m" not in screen_text(app)
        assert [s.color.number for s in styles_of(view, 0, "ERROR")] == [1]  # ANSI red
        await burst(pilot, "slash", "e", "r", "r", "o", "r", "enter")  # typed in one go
        assert view.search == "error" and view.matches == [0, 42]
        assert "“error” 2/2" in screen_text(app)  # the first match from the view down: the view was at the end
        assert any(s.reverse and s.bold for s in styles_of(view, 42, "Error"))  # the current match
        await pilot.press("n")  # wraps around to the top
        assert "“error” 1/2" in screen_text(app) and any(s.reverse and s.bold for s in styles_of(view, 0, "ERROR"))
        assert [bool(s.bold) for s in styles_of(view, 42, "Error") if s.reverse] == [False]  # highlighted, not current
        await pilot.press("N")
        assert "“error” 2/2" in screen_text(app) and not view.follow
        async with SkahaClient(local_server.url, token=local_server.token) as client:
            await client.delete(sid)
        await wait_until(pilot, lambda: "painter" in screen_text(app) and "deleted" in screen_text(app).splitlines()[3])


async def test_follow_a_log_scroll_up_resume_and_save(local_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sid = await launch(local_server, "counter", "python", str(counting_script(tmp_path, 40, 0.05)))
    app = app_for(local_server)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#sessions-table")
        await wait_until(pilot, lambda: table.row_count == 1)
        await pilot.press("l")
        logs = app.query_one("#logs-pane")
        await wait_until(pilot, lambda: app.query_one("#panes").active == "logs")
        await wait_until(pilot, lambda: logs.view.line_count == 40, message="all 40 lines")
        await pilot.pause(1.0)  # more fetches of the finished log append nothing twice
        assert list(logs.view.lines) == [f"line {i}" for i in range(40)]
        assert "counter" in screen_text(app) and "following" in screen_text(app)
        logs.view.focus()
        await pilot.press("pageup")
        assert not logs.view.follow and "paused" in screen_text(app)
        await pilot.press("s")
        assert logs.view.follow
        await pilot.press("pageup", "end")
        assert logs.view.follow
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
        await pilot.press("enter")
        saved = tmp_path / f"counter-{sid}.log"
        await wait_until(pilot, saved.exists, message="the saved log")
        assert saved.read_text().splitlines() == [f"line {i}" for i in range(40)]
        await pilot.press("e")
        await wait_until(pilot, lambda: "Events of counter" in screen_text(app))


async def test_log_is_capped_dropping_the_oldest_lines(local_server, tmp_path):
    await launch(local_server, "chatty", "python", str(counting_script(tmp_path, 300, 0)))
    app = app_for(local_server, log_max_lines=100)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(app.query_one("#sessions-table").sessions) == 1)
        await pilot.press("a")  # it may have completed already, and completed sessions are hidden until asked
        await wait_until(pilot, lambda: app.query_one("#sessions-table").row_count == 1)
        await pilot.press("l")
        logs = app.query_one("#logs-pane")
        await wait_until(pilot, lambda: logs.view.lines and logs.view.lines[-1] == "line 299", message="the last line")
        assert logs.view.line_count == 100 and logs.view.lines[0] == "line 200"
