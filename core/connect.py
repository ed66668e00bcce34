"""Open a Skaha client for the resolved settings: CANFAR with its credential, or the local server.

In local mode the server is started when none is running and reused when one is
(:func:`srcnet_tui.core.local.daemon.ensure_running`), so callers never care which backend they got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srcnet_tui.core.credentials import require_credential
from srcnet_tui.core.settings import CANFAR_URL, Settings
from srcnet_tui.core.skaha import SkahaClient, SyncSkaha


@dataclass(frozen=True)
class Target:
    """Where a client connects and the one credential it presents there."""

    url: str
    token: str | None = field(default=None, repr=False)  # never shown
    cert: Path | None = None


def target_of(settings: Settings) -> Target:
    """The service and credential for ``settings`` (refuses an unusable credential; starts the local server)."""
    if settings.backend == "local":
        from srcnet_tui.core.local.daemon import ensure_running

        endpoint = ensure_running(settings.local_server_dir)
        return Target(endpoint.url, token=endpoint.token)
    require_credential(settings)
    url = settings.url or CANFAR_URL  # resolve() always sets it for canfar
    if settings.token:
        return Target(url, token=settings.token)
    return Target(url, cert=settings.cert)


def open_client(settings: Settings, **options: Any) -> SkahaClient:
    """An async client (use ``async with``); ``options`` go to :class:`SkahaClient` (timeout, concurrency...)."""
    target = target_of(settings)
    return SkahaClient(target.url, target.token, target.cert, **options)


def open_sync(settings: Settings, **options: Any) -> SyncSkaha:
    """A blocking client for the CLI; close it (or use ``with``) when done."""
    target = target_of(settings)
    return SyncSkaha(target.url, target.token, target.cert, **options)
