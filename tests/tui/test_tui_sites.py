"""Several sites in one Sessions table (``srcnet-tui --site alpha,beta``): two real serve-local servers
configured as two SRCNet sites, one of them frozen with SIGSTOP."""

from __future__ import annotations

import os
import signal
import time

from tui_support import launch, screen_text, wait_until

from srcnet_tui.core.sites import SITE_TIMEOUT_S
from srcnet_tui.tui.app import make_app


def configure_sites(config_home, servers) -> None:
    path = config_home / "srcnet-tui" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "".join(
            f'[sites.{name}]\nurl = "{s.url}"\ntoken = "{s.token}"\nstorage_root = "/cavern"\n' for name, s in servers.items()
        )
    )


def row_of(app, session_id: str) -> str:
    """The table row of a session (found by its id, which only the table shows)."""
    return next(line for line in screen_text(app).splitlines() if session_id in line)


async def test_a_frozen_site_is_marked_stale_and_neither_stalls_nor_blanks_the_others(
    local_server_factory, state_dir, tmp_path, monkeypatch
):
    servers = {name: local_server_factory(state_dir.parent / f"state-{name}") for name in ("alpha", "beta")}
    configure_sites(tmp_path / "config", servers)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    beta_job = await launch(servers["beta"], "job-beta", "sleep", "60")
    alpha_job = await launch(servers["alpha"], "job-alpha", "sleep", "60")
    app = make_app(["--site", "alpha,beta", "--state-dir", str(state_dir)], keymap={}, poll_interval=0.25)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#sessions-table")
        await wait_until(pilot, lambda: len(table.sessions) == 2, message="both sites' sessions")
        await wait_until(pilot, lambda: alpha_job in screen_text(app) and beta_job in screen_text(app), message="both rows drawn")
        assert "sites alpha, beta" in screen_text(app).splitlines()[0]
        assert "alpha" in row_of(app, alpha_job) and "beta" in row_of(app, beta_job)

        frozen = servers["beta"].proc.pid
        os.kill(frozen, signal.SIGSTOP)
        try:
            await launch(servers["alpha"], "job-alpha-late", "sleep", "60")
            started = time.monotonic()
            await wait_until(pilot, lambda: any(s.name == "job-alpha-late" for s in table.sessions.values()), timeout_s=10)
            # the frozen site holds nobody up: the new row comes sooner than the frozen site's own timeout
            assert time.monotonic() - started < SITE_TIMEOUT_S
            await wait_until(pilot, lambda: "beta stale" in row_of(app, beta_job), timeout_s=10, message="beta marked stale")
            assert "beta stale since" in screen_text(app) and "no answer within" in screen_text(app)
            assert beta_job in table.sessions  # its last known row stays
            assert "stale" not in screen_text(app).splitlines()[0]  # the table as a whole is fresh
            assert isinstance(await app.platform.sites.logs(alpha_job), str)  # a call about one session goes to its site
        finally:
            os.kill(frozen, signal.SIGCONT)
        await wait_until(pilot, lambda: "stale" not in row_of(app, beta_job), timeout_s=10, message="beta fresh again")


def test_a_site_without_a_usable_credential_is_named_as_skipped_and_never_asked(tmp_path, monkeypatch):
    from srcnet_tui.core.site_targets import site_settings
    from srcnet_tui.tui.several_sites import SitesClient

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    targets = site_settings("local,cansrc", tmp_path / "state")
    reachable, skipped = targets.reachable, targets.not_asked()
    assert [s.site_name for s in reachable] == ["local"]
    assert list(skipped) == ["cansrc"] and "skipped (no credential for site cansrc" in skipped["cansrc"]
    client = SitesClient([], skipped, home=None, clock=lambda: None)  # type: ignore[arg-type]
    assert client.stale_sites == frozenset()  # not stale: it was never asked
