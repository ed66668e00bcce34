"""Helpers for the TUI tests: an app on a test's local server, waiting on conditions, launching sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES, wait_for_async

from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import LaunchSpec, SkahaClient
from srcnet_tui.tui.app import SrcnetApp

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"


def local_settings(state_dir: Path) -> Settings:
    return Settings("local", None, None, None, Path(state_dir), "test")


def remote_settings(state_dir: Path) -> Settings:
    """Settings of a remote site (only a stand-in client is ever asked: nothing leaves the machine)."""
    return Settings("canfar", "https://skaha.example.org/skaha/v1", "token", None, Path(state_dir), "test")


def app_for(server, **options) -> SrcnetApp:
    """The app as a user gets it, on the test's local server (the local backend reuses its daemon)."""
    options.setdefault("poll_interval", 0.25)
    options.setdefault("keymap", {})
    return SrcnetApp(local_settings(server.state_dir), **options)


async def wait_until(pilot, condition, timeout_s: float = 15.0, message: str = "condition"):
    """Let the app run until ``condition()`` is truthy; fail after ``timeout_s``."""
    return await wait_for_async(condition, lambda: pilot.pause(0.05), timeout_s, message)


async def launch(server, name: str, cmd: str, *args: str) -> str:
    """Create one real session on the local server through core's client; its id."""
    async with SkahaClient(server.url, token=server.token) as client:
        (session_id,) = await client.create(LaunchSpec(name=name, image=IMAGE, cmd=cmd, args=list(args), cores=1, ram=1))
    return session_id


async def server_sessions(server) -> dict[str, str]:
    async with SkahaClient(server.url, token=server.token) as client:
        return {s.id: s.status for s in await client.list_sessions()}


def screen_text(app) -> str:
    """Everything the screen shows, as plain text (for assertions about what a user reads)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def seed_folder(tmp_path: Path, tasks: int = 2) -> Path:
    """The seed's config.ini, unchanged, with the files it names (a stand-in cube, parameter files)."""
    seed = FIXTURES / "seed"
    folder = tmp_path / "project"
    (folder / "parameter_files").mkdir(parents=True)
    shutil.copy(seed / "config.ini", folder)
    shutil.copy(seed / "sofia.par", folder)
    (folder / "sofia_test_datacube.fits").write_bytes(b"")
    for i in range(tasks):
        shutil.copy(seed / "sofia.par", folder / "parameter_files" / f"sofia_{i}.par")
    return folder
