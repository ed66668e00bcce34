"""The app shell: header, help listing every key, keymap remapping, palette, quitting, small terminals,
a blocking modal when the credential is missing or expired, server errors shown as plain text."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import wait_for_async
from rich.console import Console
from textual.binding import Binding
from textual.command import CommandPalette
from tui_snapshot_data import NOW, PinnedClient, PinnedPlatform
from tui_support import app_for, launch, notifications, screen_text, wait_until

from srcnet_tui.core.credentials import CredentialStatus, credential_status
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import SkahaClient
from srcnet_tui.tui.app import SrcnetApp, make_app, pane_parts, panes
from srcnet_tui.tui.screens.help import HelpScreen, bindings_table
from srcnet_tui.tui.screens.modals import ProblemModal
from srcnet_tui.tui.widgets.status_header import credential_label


def every_binding() -> list[Binding]:
    app_bindings = [b for b in SrcnetApp.BINDINGS if isinstance(b, Binding)]
    return app_bindings + [b for _, _, cls in panes() for part in pane_parts(cls) for b in part.__dict__["BINDINGS"]]


def test_every_binding_has_a_unique_id():
    ids = [b.id for b in every_binding()]
    assert all(ids) and len(ids) == len(set(ids))


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
        assert "Keys" in screen_text(app) and "app.quit" in screen_text(app)
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
    settings = Settings("canfar", "https://127.0.0.1:9/skaha/v1", None, None, tmp_path, "chosen")
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


def expired_jwt() -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': int(time.time()) - 3600})}.signature"


@pytest.mark.parametrize(
    "status, label",
    [
        (CredentialStatus("local"), "no expiry"),
        (CredentialStatus("token", NOW, 7200.0), "2h00m"),
        (CredentialStatus("cert", NOW, 0.0, "cadcproxy.pem: proxy certificate expired at ..."), "expired"),
        (CredentialStatus("cert", NOW, None, "cadcproxy.pem: certificate not valid before ..."), "not yet valid"),
        (CredentialStatus("cert", None, None, "cadcproxy.pem: proxy certificate not found"), "missing"),
        (CredentialStatus("none", None, None, "no CANFAR credential"), "missing"),
    ],
)
def test_the_header_names_why_a_credential_is_unusable(status, label):
    assert credential_label(status) == label


class RealCredentialPlatform(PinnedPlatform):
    """Pinned sessions, but the credential checked by core as the app would check it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    async def credential(self):
        return credential_status(self.settings)


async def test_an_expired_credential_is_called_expired(tmp_path):
    settings = Settings("canfar", "https://127.0.0.1:9/skaha/v1", expired_jwt(), None, tmp_path, "chosen")
    app = SrcnetApp(settings, platform=RealCredentialPlatform(settings), keymap={})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemModal))
        assert "token expired at" in app.screen._body.plain
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ProblemModal))
        header = screen_text(app).splitlines()[0]
        assert "cred expired" in header and "missing" not in header


class HtmlErrorServer:
    """A loopback 'proxy' answering every request with an HTML error page full of brackets and escapes."""

    PAGE = "<html><head><style>p {}</style></head><body><h1>Gateway [/x] said no</h1>\x1b[31m<p>[b]retry[/b]</p></body></html>"

    def __init__(self) -> None:
        page = self.PAGE.encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(409)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/skaha/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_server_error_page_is_one_plain_line_in_the_notification(tmp_path):
    server = HtmlErrorServer()
    try:
        settings = Settings("canfar", server.url, "opaque-token", None, tmp_path, "chosen")
        app = SrcnetApp(settings, keymap={}, poll_interval=0.25)
        async with app.run_test(size=(160, 30), notifications=True) as pilot:
            await wait_until(pilot, lambda: notifications(app), message="the poll's warning")
            (message,) = notifications(app)
            assert message == f"{server.url}/session: HTTP 409 Conflict: Gateway [/x] said no [b]retry[/b]"
            await wait_until(pilot, lambda: "Gateway [/x] said no [b]retry[/b]" in screen_text(app))
            assert app.is_running
    finally:
        server.close()


async def test_polls_and_timers_keep_working_while_a_modal_is_open(local_server):
    app = app_for(local_server)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.status_header.updated_at is not None, message="a first poll")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), message="the help screen")
        first = app.status_header.updated_at
        await wait_until(pilot, lambda: app.status_header.updated_at != first, message="a poll under the modal")
        assert app.query_one("#usage-pane").is_visible_pane() is False
        assert app.is_running


async def test_a_failed_worker_is_one_plain_notification_and_the_app_goes_on(local_server):
    """A core error from a worker (the events of a session deleted meanwhile) is its own plain line."""
    sid = await launch(local_server, "short-lived", "sleep", "60")
    app = app_for(local_server)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.query_one("#sessions-table").row_count == 1)
        await pilot.press("f")  # frozen: the row stays while the session goes
        async with SkahaClient(local_server.url, token=local_server.token) as client:
            await client.delete(sid)
            await wait_for_gone(client, sid)
        await pilot.press("e")
        await wait_until(pilot, lambda: notifications(app), message="the events worker's failure")
        (message,) = notifications(app)
        assert sid in message and "Unexpected" not in message
        assert [n.title for n in app._notifications] == ["Could not read the session's events"]
        await wait_until(pilot, lambda: "Could not read the session's events" in screen_text(app))
        assert app.is_running


async def wait_for_gone(client, sid: str) -> None:
    listed = {sid}

    async def relist() -> None:
        listed.clear()
        listed.update(s.id for s in await client.list_sessions())

    await wait_for_async(lambda: sid not in listed, relist, 15.0, "the session to be gone")


class BrokenEventsClient(PinnedClient):
    """A client whose events call has a bug (not a core error)."""

    async def events(self, session_id: str) -> str:
        if session_id == "s004pin4":  # the Pending one, whose events the why-pending estimate reads
            return await super().events(session_id)
        raise KeyError("type")


async def test_an_unexpected_worker_error_is_named_once_and_the_app_goes_on(tmp_path):
    platform = PinnedPlatform()
    platform._client = BrokenEventsClient()
    app = SrcnetApp(Settings("local", None, None, None, tmp_path, "test"), platform=platform, keymap={}, poll_interval=60.0)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.query_one("#sessions-table").sessions) == 8)
        await pilot.press("e")
        await wait_until(pilot, lambda: notifications(app), message="the events worker's failure")
        assert notifications(app) == ["Unexpected error (a bug; the app goes on): KeyError: 'type'"]
        await pilot.press("l")
        await wait_until(pilot, lambda: app.query_one("#logs-pane").view.line_count == 60, message="the app still answers")
