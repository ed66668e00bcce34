"""Open a Skaha client for the resolved settings: CANFAR with its credential, or the local server.

In local mode the server is started when none is running and reused when one is
(:func:`srcnet_tui.core.local.daemon.ensure_running`), so callers never care which backend they got.
"""

from __future__ import annotations

from srcnet_tui.core.credentials import require_credential
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import SkahaClient, SyncSkaha


def client_arguments(settings: Settings) -> tuple[tuple, dict]:
    """Positional and keyword arguments for :class:`SkahaClient` (refuses an unusable credential)."""
    if settings.backend == "local":
        from srcnet_tui.core.local.daemon import ensure_running

        endpoint = ensure_running(settings.state_dir)
        return (endpoint.url,), {"token": endpoint.token}
    require_credential(settings)
    if settings.token:
        return (settings.url,), {"token": settings.token}
    return (settings.url,), {"cert": settings.cert}


def open_client(settings: Settings, **options) -> SkahaClient:
    """An async client (use ``async with``); ``options`` go to :class:`SkahaClient` (timeout, concurrency...)."""
    args, kwargs = client_arguments(settings)
    return SkahaClient(*args, **kwargs, **options)


def open_sync(settings: Settings, **options) -> SyncSkaha:
    """A blocking client for the CLI; close it (or use ``with``) when done."""
    args, kwargs = client_arguments(settings)
    return SyncSkaha(*args, **kwargs, **options)
