"""The app's one connection to the platform, shared by every pane.

Opening the client may start the local daemon (``srcnet_tui.core.connect.open_client`` calls
``ensure_running`` for the local backend), which blocks, so the first pane that needs the client
opens it in a thread; later callers await the same open. Everything else here is a thin async
pass-through to :class:`srcnet_tui.core.skaha.SkahaClient` so that tests and the benchmark can hand the app
another object with the same methods. The client's modules (httpx, core's connect) are imported in
that thread too, after the app's first frame. Whether a local daemon is hung is core's word
(:func:`srcnet_tui.core.local.daemon.hung_server`), which also keeps a second daemon from starting beside it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.credentials import credential_status
from srcnet_tui.core.errors import SrcnetError
from srcnet_tui.core.settings import Settings

TUI_RETRIES = Backoff(first_s=0.25, cap_s=2.0, attempts=3, total_s=8.0, jitter=True)
"""A poll that fails fast: the poll loop has its own backoff, and the header must turn stale soon."""


class Platform:
    """Lazily opened :class:`srcnet_tui.core.skaha.SkahaClient` for one :class:`srcnet_tui.core.settings.Settings`."""

    def __init__(self, settings: Settings, timeout_s: float = 15.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        """How long one request may take before it counts as unanswered."""
        self._client: Any = None
        self._opening: asyncio.Lock | None = None

    async def client(self) -> Any:
        """The open client; the first call opens it (in a thread: it may start the local daemon)."""
        if self._client is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._client is None:
                    self._client = await asyncio.to_thread(self._open)
        return self._client

    def _open(self) -> Any:
        from srcnet_tui.core import connect

        return connect.open_client(self.settings, timeout=self.timeout_s, retries=TUI_RETRIES)

    async def recover(self) -> str | None:
        """After the platform stopped answering: a hung local server is named and kept (its client too,
        so the next poll is answered the moment it resumes); otherwise the client is dropped and the next
        call opens a new one (for the local backend that restarts the daemon; its sessions survive on disk)."""
        hung = await self.diagnose()
        if hung is None:
            await self.reconnect()
        return hung

    async def diagnose(self) -> str | None:
        """Why the platform is not answering, when the client can tell: a hung local server (checked in a thread)."""
        if self.settings.backend != "local":
            return None
        from srcnet_tui.core.local.daemon import hung_server

        return await asyncio.to_thread(hung_server, self.settings.state_dir)

    async def reconnect(self) -> None:
        """Drop the client; the next call opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except (SrcnetError, OSError, RuntimeError):  # the old connection is already broken; nothing to save
                pass

    async def credential(self) -> Any:
        """:class:`srcnet_tui.core.credentials.CredentialStatus` of the settings (read in a thread: it opens files)."""
        return await asyncio.to_thread(credential_status, self.settings)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def error_line(exc: BaseException) -> str:
    """One line for a notification: core errors say it themselves (core makes a server's answer one
    clean line: no HTML, no escape sequences); anything else names its type."""
    if isinstance(exc, SrcnetError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
