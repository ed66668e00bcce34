"""Keys that never misfire: each test is a key sequence a user typed that once landed in the wrong
place (a field scrolled out of view, a filter that missed the keys typed after ``/``, a quit that
dropped edits, Home/End that scrolled sideways)."""

from __future__ import annotations

import pytest
from textual import events
from textual.command import CommandPalette
from tui_snapshot_data import pinned_app
from tui_support import notifications, screen_text, seed_folder, wait_until

from srcnet_tui.tui.screens.help import HelpScreen
from srcnet_tui.tui.screens.modals import ConfirmModal, ProblemModal, PromptModal


async def open_seed_config(pilot, app, tmp_path) -> None:
    """``o``, the seed's config.ini, ``enter``: as a user opens it."""
    folder = seed_folder(tmp_path)
    await wait_until(pilot, lambda: app.query_one("#runs-ledger").has_focus)
    await pilot.press("o")
    await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
    app.screen.query_one("Input").value = str(folder / "config.ini")
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.query_one("#runs-pane").form.draft is not None and app.query(".field-row Input"))


async def burst(pilot, *keys: str) -> None:
    """Keys as a terminal delivers a fast typist's burst: all queued before the app handles the first
    (``pilot.press`` waits for the app to go idle after each key, which hides a deferred focus)."""
    for key in keys:
        pilot.app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
    await pilot.pause()


def visible(app, widget) -> bool:
    """Is the widget drawn where it is (not scrolled out of its container)?"""
    region = widget.region
    return bool(region) and app.screen.get_widget_at(region.x, region.y)[0] is widget


async def test_down_walks_every_field_and_the_focused_one_is_always_in_view(tmp_path):
    app = pinned_app(tmp_path, start_pane="runs")
    async with app.run_test(size=(80, 24)) as pilot:  # the size at which the form scrolls
        await open_seed_config(pilot, app, tmp_path)
        form = app.query_one("#runs-pane").form
        await pilot.press("e")
        fields = form.fields
        await wait_until(pilot, lambda: fields[0].has_focus)
        for field in fields[1:]:
            await pilot.press("down")
            assert field.has_focus, f"down should reach {field.id}"
            await pilot.pause()
            assert visible(app, field), f"{field.id} is focused but out of view"
        await pilot.press("x")
        assert fields[-1].value.endswith("x") or fields[-1].value == "x"
        for field in reversed(fields[:-1]):
            await pilot.press("up")
            assert field.has_focus, f"up should reach {field.id}"
        await pilot.pause()
        assert visible(app, fields[0])


async def test_opening_a_config_does_not_enter_the_form_so_e_edits_and_L_launches(tmp_path):
    app = pinned_app(tmp_path, start_pane="runs")
    async with app.run_test(size=(100, 40)) as pilot:
        await open_seed_config(pilot, app, tmp_path)
        vos_dir = app.query_one("#field-vos_dir")
        before = vos_dir.value
        await pilot.pause(0.1)
        assert app.query_one("#runs-ledger").has_focus
        await pilot.press("L")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ConfirmModal) or any("Open a valid config" in n.message for n in app._notifications),
        )
        if isinstance(app.screen, ConfirmModal):
            await pilot.press("n")
        await burst(pilot, "e", "x", "e")  # typed fast: the keys after e are the field's, e included
        assert vos_dir.has_focus and vos_dir.value == "xe" and before != "xe"


async def test_keys_typed_right_after_slash_all_go_into_the_filter(tmp_path):
    app = pinned_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#sessions-table")
        await wait_until(pilot, lambda: len(table.sessions) == 8 and table.has_focus)
        await pilot.press("slash", *"lief", "enter")  # l logs, i info, e events, f freeze: none of them may fire
        assert table.filter_text == "lief"
        await pilot.press("escape")
        await burst(pilot, "slash", *"fiel", "enter")
        assert table.filter_text == "fiel"
        assert app.query_one("#panes").active == "sessions" and not app.query_one("#sessions-pane").frozen
        assert app.screen is app.screen_stack[0]


async def test_q_with_unsaved_config_edits_asks_first(tmp_path):
    app = pinned_app(tmp_path, start_pane="runs")
    async with app.run_test(size=(100, 40)) as pilot:
        await open_seed_config(pilot, app, tmp_path)
        await pilot.press("e", "x", "escape", "q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "not saved" in app.screen._body
        await pilot.press("n")
        assert app.is_running
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running)


async def test_home_and_end_go_to_the_first_and_last_row(tmp_path):
    app = pinned_app(tmp_path)
    async with app.run_test(size=(60, 30)) as pilot:  # narrow: the table also scrolls sideways
        table = app.query_one("#sessions-table")
        await wait_until(pilot, lambda: len(table.sessions) == 8 and table.has_focus)
        await pilot.press("down", "down", "end")
        assert table.cursor_row == table.row_count - 1 and table.scroll_x == 0
        await pilot.press("home")
        assert table.cursor_row == 0
        assert "sofia" in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (100, 40)])
async def test_help_scrolls_to_its_last_key_and_always_shows_the_keymap_line(tmp_path, size):
    app = pinned_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        assert "remap keys in" in screen_text(app) and "Everywhere" in screen_text(app)
        await pilot.press("end")
        await pilot.pause()
        assert "ctrl+q" in screen_text(app) and "remap keys in" in screen_text(app)


async def test_a_misspelt_keymap_id_is_named_in_a_modal_and_the_others_still_apply(tmp_path):
    app = pinned_app(tmp_path, keymap={"sesions.delete": "ctrl+x", "sessions.freeze": "z"})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemModal))
        assert '"sesions.delete"' in app.screen._body.plain and "sessions.freeze" not in app.screen._body.plain
        await wait_until(pilot, lambda: '"sesions.delete"' in screen_text(app))
        await pilot.press("escape", "z")
        assert app.query_one("#sessions-pane").frozen


async def test_f8_and_the_palettes_screenshot_save_into_one_folder_created_when_missing(tmp_path):
    folder = tmp_path / "no" / "such" / "shots"
    app = pinned_app(tmp_path, screenshot_dir=folder)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.query_one("#sessions-table").sessions) == 8)
        await pilot.press("f8")
        await wait_until(pilot, lambda: len(list(folder.glob("*.svg"))) == 1, message="F8's screenshot")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(list(folder.glob("*.svg"))) == 2, message="the palette's screenshot")
        assert not any("Failed" in n for n in notifications(app))


async def test_labels_that_name_keys_follow_the_keymap(tmp_path):
    keymap = {"sessions.freeze": "z", "sessions.toggle-finished": "h", "sessions.filter": "ctrl+f", "app.help": "f2"}
    app = pinned_app(tmp_path, keymap=keymap)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#sessions-table")
        await wait_until(pilot, lambda: len(table.sessions) == 8 and table.has_focus)
        await wait_until(pilot, lambda: "Freeze" in screen_text(app), message="the footer")
        footer = next(line for line in screen_text(app).splitlines() if "Freeze" in line)
        assert "z Freeze" in footer and "^f Filter" in footer and "f2 Help" in footer
        assert "2 completed hidden (h shows)" in screen_text(app)
        await pilot.press("z")
        assert "FROZEN (z)" in screen_text(app).splitlines()[0]
        await pilot.press("ctrl+f")
        assert app.query_one("#sessions-filter").placeholder.startswith("ctrl+f filter")
        await pilot.press("escape", "f2")
        await wait_until(pilot, lambda: "app.help" in screen_text(app), message="help")
        assert any("f2" in line and "app.help" in line for line in screen_text(app).splitlines())


@pytest.mark.parametrize("size", [(80, 24), (100, 40)], ids=["80x24", "100x40"])
async def test_a_long_confirmation_keeps_its_buttons_on_screen(tmp_path, size):
    """A confirmation listing many items (a clean preview, a bulk delete) scrolls its body; Yes/No stay visible."""
    app = pinned_app(tmp_path / "state")
    async with app.run_test(size=size) as pilot:
        app.push_screen(ConfirmModal("Remove 60 products?", "\n".join(f"product-{i:03d}.fits  1.2G" for i in range(60))))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.pause()
        for button in app.screen.query("Button"):
            region = button.region
            assert region.height > 0 and region.bottom <= size[1] and region.y >= 0, f"{button.id} at {region}"
