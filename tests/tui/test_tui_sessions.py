"""The Sessions pane against a real local server with real sessions: live rows, keys, resilience."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from tui_support import app_for, launch, notifications, screen_text, server_sessions, wait_until

from srcnet_tui.tui.panes.sessions import backoff_delay, recovery_bound
from srcnet_tui.tui.screens.modals import ConfirmModal, TextModal


def table(app):
    return app.query_one("#sessions-table")


async def test_rows_are_keyed_and_updated_in_place(local_server):
    sleeper = await launch(local_server, "sleeper", "sleep", "60")
    quick = await launch(local_server, "quick", "sleep", "1.5")
    app = app_for(local_server)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: table(app).row_count == 2, message="both sessions listed")
        table(app).move_cursor_to(sleeper)
        cleared = []
        table(app).clear = lambda *a, **k: cleared.append(1)  # a poll must never clear the table
        await wait_until(pilot, lambda: table(app).sessions[quick].status == "Completed", message="quick to complete")
        polls = app.query_one("#sessions-pane").polls
        await wait_until(pilot, lambda: app.query_one("#sessions-pane").polls > polls + 1)
        assert table(app).current_id == sleeper
        assert not cleared
        assert "1 completed hidden" in screen_text(app) and "sleeper" in screen_text(app)
        assert "updated" in screen_text(app)
        del table(app).clear  # a user action may refill it
        await pilot.press("a")
        assert "Completed" in screen_text(app) and table(app).current_id == sleeper


async def test_mark_and_delete_after_a_confirmation_naming_them(local_server):
    ids = [await launch(local_server, f"victim-{i}", "sleep", "60") for i in (1, 2)]
    keeper = await launch(local_server, "keeper", "sleep", "60")
    app = app_for(local_server)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: table(app).row_count == 3)
        assert [table(app).coordinate_to_cell_key((r, 0)).row_key.value for r in range(3)] == [keeper, *ids]
        await wait_until(pilot, lambda: table(app).has_focus)
        await pilot.press("down", "space", "space")
        assert table(app).marks == set(ids)
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        shown = app.screen._body
        assert "victim-1" in shown and "victim-2" in shown and "keeper" not in shown
        await pilot.press("y")
        await wait_until(pilot, lambda: set(table(app).sessions) == {keeper}, message="deleted rows to go")
        assert set(await server_sessions(local_server)) == {keeper}


async def test_declining_the_confirmation_deletes_nothing(local_server):
    sid = await launch(local_server, "survivor", "sleep", "60")
    app = app_for(local_server)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: table(app).row_count == 1)
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await pilot.pause(0.5)
        assert sid in await server_sessions(local_server)


async def test_filter_sort_run_grouping_details_events_renew(local_server_factory):
    local_server = local_server_factory(cores=16, ram_gb=32)
    for name in ("alpha-1", "alpha-2", "beta-1"):
        await launch(local_server, name, "sleep", "60")
    app = app_for(local_server)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(
            pilot, lambda: len(table(app).sessions) == 3 and all(s.status == "Running" for s in table(app).sessions.values())
        )
        await pilot.press("slash")
        assert app.query_one("#sessions-filter", Input).has_focus
        await pilot.press("b", "e", "t")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        await pilot.press("enter", "escape")
        await pilot.press("R")
        assert table(app).filter_text == "run:beta" and table(app).row_count == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == 3)
        await pilot.press("N")
        assert table(app).sort_reverse
        await pilot.press("home", "i")
        await wait_until(pilot, lambda: isinstance(app.screen, TextModal))
        await wait_until(pilot, lambda: "beta-1" in screen_text(app) and "requestedCPUCores" in screen_text(app))
        await pilot.press("escape", "e")
        await wait_until(pilot, lambda: "Events of beta-1" in screen_text(app), message="events (or why there are none)")
        await pilot.press("escape", "r")
        await wait_until(pilot, lambda: any("Renewed beta-1" in n for n in notifications(app)))


async def test_freeze_stops_updates_until_pressed_again(local_server):
    await launch(local_server, "first", "sleep", "60")
    app = app_for(local_server)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: table(app).row_count == 1)
        await pilot.press("f")
        assert "FROZEN" in screen_text(app)
        await launch(local_server, "second", "sleep", "60")
        await pilot.pause(1.0)
        assert table(app).row_count == 1
        await pilot.press("f")
        await wait_until(pilot, lambda: table(app).row_count == 2)


async def test_lost_platform_shows_stale_then_recovers_without_crashing(local_server):
    await launch(local_server, "lonely", "sleep", "60")
    app = app_for(local_server)
    async with app.run_test(notifications=True) as pilot:
        pane = app.query_one("#sessions-pane")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        local_server.kill()
        await wait_until(pilot, lambda: pane.failures >= 1, timeout_s=30, message="a failed poll")
        assert "stale since" in screen_text(app)
        assert any("cannot" in n.lower() or "no answer" in n.lower() for n in notifications(app)) or pane.failures
        assert table(app).row_count == 1  # the last known rows stay
        await pilot.press("l")
        assert app.is_running
        # the local backend reconnects by restarting its daemon; the session survived on disk
        await wait_until(pilot, lambda: pane.failures == 0 and "stale" not in screen_text(app), timeout_s=30, message="recovery")
        assert table(app).row_count == 1


def test_backoff_doubles_and_is_capped_so_the_app_is_back_soon_after_the_platform():
    assert backoff_delay(2.0, 0) == 2.0
    assert [backoff_delay(2.0, n) for n in (1, 2, 3, 50)] == [2.0, 4.0, 7.5, 7.5]  # a remote site
    assert backoff_delay(2.0, 50, recovery_bound("local")) == 2.5
    assert backoff_delay(30.0, 1, recovery_bound("local")) == 2.5  # a long interval does not delay recovery
    for backend, bound in (("local", 5.0), ("canfar", 15.0)):
        # once stale, a try gives up after half the bound, and the wait after it is at most the other half
        assert recovery_bound(backend) == bound
        assert all(recovery_bound(backend) / 2 + backoff_delay(2.0, n, bound) <= bound for n in range(1, 60))


async def test_a_hung_platform_turns_stale_before_its_poll_fails(tmp_path):
    """A platform that takes the request and never answers (SIGSTOPped) shows as stale within a few
    poll intervals, not only when the client gives up."""
    import asyncio
    from datetime import timedelta

    from tui_snapshot_data import NOW, PinnedClient, PinnedPlatform
    from tui_support import local_settings

    from srcnet_tui.tui.app import SrcnetApp

    class HangsAfterFirstPoll(PinnedClient):
        answered = 0

        async def list_sessions(self, type=None, status=None):
            self.answered += 1
            if self.answered > 1:
                await asyncio.Event().wait()
            return await super().list_sessions()

    platform = PinnedPlatform()
    platform._client = HangsAfterFirstPoll()
    now = [NOW]
    app = SrcnetApp(local_settings(tmp_path), platform=platform, clock=lambda: now[0], keymap={}, poll_interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: len(table(app).sessions) == 8 and platform._client.answered > 1)
        assert "stale" not in screen_text(app)
        now[0] = NOW + timedelta(seconds=6)  # three intervals, and more than five seconds, without an answer
        await wait_until(pilot, lambda: f"stale since {NOW:%H:%M:%S}" in screen_text(app), timeout_s=5)
        assert len(table(app).sessions) == 8


async def test_while_stale_the_header_counts_down_to_the_next_try_and_its_key_tries_now(tmp_path):
    from tui_snapshot_data import PinnedClient, PinnedPlatform
    from tui_support import remote_settings

    from srcnet_tui.core.errors import Unreachable
    from srcnet_tui.tui.app import SrcnetApp

    class GoneAfterFirstPoll(PinnedClient):
        asked = 0

        async def list_sessions(self, type=None, status=None):
            self.asked += 1
            if self.asked > 1:
                raise Unreachable("http://127.0.0.1:1/skaha/v1/session: no answer")
            return await super().list_sessions()

    platform = PinnedPlatform()
    client = platform._client = GoneAfterFirstPoll()
    keymap = {"sessions.refresh": "ctrl+g"}  # the header names the key as remapped
    app = SrcnetApp(remote_settings(tmp_path), platform=platform, keymap=keymap, poll_interval=30.0)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(pilot, lambda: len(table(app).sessions) == 8)
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: "retrying in 8 s — ctrl+g now" in screen_text(app).splitlines()[0])
        await wait_until(pilot, lambda: "retrying in 7 s" in screen_text(app), message="the countdown")
        assert "stale since" in screen_text(app).splitlines()[0]
        asked = client.asked
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: client.asked == asked + 1, message="a try at once")


class SwallowsRequestsWhileDown:
    """A platform that is up, refuses (fails at once), or swallows: its requests made then are never
    answered (a dropped connection, as a remote site's are); those made once it is back are answered."""

    def __init__(self):
        from tui_snapshot_data import PinnedClient

        self.pinned = PinnedClient()
        self.mode = "up"
        self.asked = 0

    async def list_sessions(self, type=None, status=None):
        import asyncio

        from srcnet_tui.core.errors import Unreachable

        self.asked += 1
        if self.mode == "refusing":
            raise Unreachable("https://skaha.example.org/skaha/v1/session: no answer")
        if self.mode == "swallowing":
            await asyncio.Event().wait()
        return await self.pinned.list_sessions()

    def __getattr__(self, name):
        return getattr(self.pinned, name)


def swallowing_app(settings, **options):
    from tui_snapshot_data import PinnedPlatform

    from srcnet_tui.tui.app import SrcnetApp

    platform = PinnedPlatform()
    platform._client = SwallowsRequestsWhileDown()
    return SrcnetApp(settings, platform=platform, keymap={}, **options), platform._client


async def test_back_within_5_s_of_the_local_server_answering_again_even_when_the_outage_swallowed_a_request(tmp_path):
    import time

    from tui_support import local_settings

    app, client = swallowing_app(local_settings(tmp_path), poll_interval=0.25)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one("#sessions-pane")
        await wait_until(pilot, lambda: len(table(app).sessions) == 8)
        client.mode = "refusing"
        await wait_until(pilot, lambda: "stale since" in screen_text(app).splitlines()[0], message="stale")
        client.mode = "swallowing"
        asked = client.asked
        await wait_until(pilot, lambda: client.asked > asked, message="a try sent into the outage")
        client.mode = "up"  # back, just after a try it will never answer was sent: the worst case
        back = time.monotonic()
        await wait_until(pilot, lambda: pane.failures == 0 and "stale" not in screen_text(app).splitlines()[0], timeout_s=10)
        assert time.monotonic() - back <= 5.0


async def test_while_a_request_is_stuck_the_header_counts_down_to_when_it_gives_up_and_its_key_asks_again(tmp_path):
    from tui_support import remote_settings

    app, client = swallowing_app(remote_settings(tmp_path), poll_interval=30.0)
    async with app.run_test(size=(140, 24)) as pilot:
        await wait_until(pilot, lambda: len(table(app).sessions) == 8)
        client.mode = "refusing"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "retrying in 8 s" in screen_text(app).splitlines()[0], message="stale, waiting")
        client.mode = "swallowing"
        await pilot.press("ctrl+r")
        header = lambda: screen_text(app).splitlines()[0]  # noqa: E731
        await wait_until(pilot, lambda: "no answer yet, gives up in 8 s — ctrl+r retries" in header(), message="stuck")
        await wait_until(pilot, lambda: "gives up in 7 s" in header(), message="the countdown of a stuck request")
        assert "…" not in header()
        asked = client.asked
        client.mode = "up"
        await pilot.press("ctrl+r")  # abandons the stuck request for a new one, answered at once
        await wait_until(pilot, lambda: client.asked == asked + 1 and "stale" not in header(), timeout_s=3)


def serve_local_processes(state_dir) -> list[int]:
    """Every serve-local process of this state folder (the test's own, and any the app started)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "serve-local" in cmdline and str(state_dir) in cmdline:
            found.append(proc.info["pid"])
    return found


async def test_a_sigstopped_local_server_is_called_hung_and_no_second_one_is_started(local_server):
    import os
    import signal

    from tui_support import local_settings

    from srcnet_tui.core.errors import Unreachable
    from srcnet_tui.tui.platform import Platform

    await launch(local_server, "patient", "sleep", "60")
    quick_to_give_up = Platform(local_settings(local_server.state_dir), timeout_s=2.0)
    app = app_for(local_server, poll_interval=0.5, platform=quick_to_give_up)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        pane = app.query_one("#sessions-pane")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        assert serve_local_processes(local_server.state_dir) == [local_server.proc.pid]
        os.kill(local_server.proc.pid, signal.SIGSTOP)
        try:
            await wait_until(pilot, lambda: "local server hung" in screen_text(app).splitlines()[0], timeout_s=20)
            assert any("is not answering — it may be hung/stopped" in n for n in notifications(app))
            await wait_until(pilot, lambda: pane.failures >= 1, timeout_s=30, message="the hung poll to give up")
            assert "local server hung" in screen_text(app).splitlines()[0]
            with pytest.raises(Unreachable, match="is not answering"):  # an app started now does not start a daemon either
                await Platform(local_settings(local_server.state_dir)).client()
            assert serve_local_processes(local_server.state_dir) == [local_server.proc.pid]
        finally:
            os.kill(local_server.proc.pid, signal.SIGCONT)
        await wait_until(pilot, lambda: "stale" not in screen_text(app), timeout_s=10, message="fresh again")
        assert "hung" not in screen_text(app).splitlines()[0] and table(app).row_count == 1
