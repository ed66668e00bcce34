"""The app shell: header, help listing every key, keymap remapping, palette, quitting, small terminals,
and a blocking modal when the credential is missing."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.binding import Binding
from textual.command import CommandPalette

from core.settings import Settings
from tui.app import PANES, SrcnetApp, make_app
from tui.keymap import load_keymap
from tui.screens.help import HelpScreen, bindings_table
from tui.screens.modals import ProblemModal
from tui_snapshot_data import PinnedPlatform
from tui_support import app_for, screen_text, wait_until


def every_binding() -> list[Binding]:
    app_bindings = [b for b in SrcnetApp.BINDINGS if isinstance(b, Binding)]
    return app_bindings + [b for _, _, cls in PANES for b in cls.BINDINGS]


def test_every_binding_has_a_unique_id():
    ids = [b.id for b in every_binding()]
    assert all(ids) and len(ids) == len(set(ids))


def test_keymap_file_is_read_and_checked(tmp_path):
    good = tmp_path / "keymap.toml"
    good.write_text('"sessions.freeze" = "z"\n')
    assert load_keymap(good) == {"sessions.freeze": "z"}
    bad = tmp_path / "bad.toml"
    bad.write_text('"sessions.freeze" = 3\n')
    with pytest.raises(Exception, match="sessions.freeze"):
        load_keymap(bad)


async def test_header_help_palette_and_quit(local_server):
    app = app_for(local_server)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "updated" in screen_text(app))
        header = screen_text(app).splitlines()[0]
        assert "│ local │" in header and "cred no expiry" in header
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(bindings_table(app.screen._sections, app._keymap))
        listed = console.export_text()
        for binding in every_binding():
            assert binding.id in listed
        assert "Keys" in screen_text(app) and "sessions.delete" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"freeze")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one("#sessions-pane").frozen, message="freeze from the palette")
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_keymap_remaps_a_binding(local_server):
    app = app_for(local_server, keymap={"sessions.freeze": "z"})
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.query_one("#sessions-table").has_focus)
        await pilot.press("f")
        assert not app.query_one("#sessions-pane").frozen
        await pilot.press("z")
        assert app.query_one("#sessions-pane").frozen


@pytest.mark.parametrize("pane", ["runs", "sessions", "logs", "usage"])
async def test_every_pane_fits_80_by_24(local_server, pane):
    app = app_for(local_server, start_pane=pane)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(str(["runs", "sessions", "logs", "usage"].index(pane) + 1))
        await pilot.pause(0.3)
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and "srcnet-tui" in lines[0] and "Help" in lines[-1]


async def test_missing_credential_is_a_modal_saying_what_to_do(tmp_path):
    settings = Settings("canfar", "https://ws-uv.canfar.net/skaha/v1", None, None, tmp_path, "chosen")
    app = SrcnetApp(settings, keymap={}, poll_interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemModal))
        await wait_until(pilot, lambda: "cadc-get-cert" in screen_text(app))
        await pilot.pause(1.0)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert "cred missing" in screen_text(app).splitlines()[0]
        assert app.is_running


async def test_a_broken_keymap_file_opens_the_app_with_a_modal(tmp_path, monkeypatch):
    config = tmp_path / "config"
    (config / "srcnet-tui").mkdir(parents=True)
    (config / "srcnet-tui" / "keymap.toml").write_text("this is not toml [\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("SRCNET_STATE_DIR", str(tmp_path / "state"))
    app = make_app([], platform=PinnedPlatform())  # nothing leaves the process
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemModal))
        assert "keymap.toml: cannot read keymap" in app.screen._body.plain
