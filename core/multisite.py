"""Ask several sites at once, each within its own time limit, so that a dead or frozen site delays nobody.

``sessions --site all`` and ``sites`` use it. Each site is asked in its own task with a client whose
connecting, answering and retrying all fit in one timeout; a site that fails or overruns comes back
with its error (which the caller names on stderr) while the others' answers are used as they are.
Reaching the local site may start its daemon, which blocks: that runs in a daemon thread, so a
frozen local daemon holds neither the loop nor the process's exit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from srcnet_tui.core import connect
from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import SrcnetError, Unreachable
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.sites import SITE_TIMEOUT_S
from srcnet_tui.core.skaha import SkahaClient

T = TypeVar("T")


@dataclass(frozen=True)
class SiteAnswer(Generic[T]):
    """What one site answered (``value``), or why it did not (``error``), and how long it took."""

    settings: Settings
    value: T | None = None
    error: SrcnetError | None = None
    seconds: float = 0.0

    @property
    def site(self) -> str:
        return self.settings.site_name


def bounded_client(target: connect.Target, timeout_s: float, progress: Callable[[str], None] | None = None) -> SkahaClient:
    """A client whose every request, retries included, ends within ``timeout_s``."""
    retries = Backoff(first_s=0.25, factor=2.0, cap_s=1.0, attempts=3, total_s=timeout_s, jitter=True)
    return SkahaClient(
        target.url, target.token, target.cert, timeout=timeout_s, retries=retries, concurrency=8, progress=progress
    )


async def in_daemon_thread(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a daemon thread: cancelling the await abandons it instead of waiting for it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def work() -> None:
        error: BaseException | None
        try:
            value, error = function(*args), None
        except (SrcnetError, OSError) as exc:  # a bug propagates here and the awaiting task times out
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # the loop has closed: nobody waits for this answer any more

    threading.Thread(target=work, daemon=True).start()
    return await future


async def ask_one(
    settings: Settings,
    call: Callable[[SkahaClient], Awaitable[T]],
    timeout_s: float = SITE_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
) -> SiteAnswer[T]:
    """``call(client)`` at the site of ``settings``, all within ``timeout_s``."""
    started = time.monotonic()
    name = settings.site_name

    def tell(message: str) -> None:
        if progress is not None:
            progress(f"site {name}: {message}")

    try:
        async with asyncio.timeout(timeout_s):
            target = await in_daemon_thread(connect.target_of, settings)
            async with bounded_client(target, timeout_s, tell) as client:
                value = await call(client)
    except TimeoutError:
        error = Unreachable(f"no answer within {timeout_s:g} s")
        return SiteAnswer(settings, error=error, seconds=time.monotonic() - started)
    except SrcnetError as exc:
        return SiteAnswer(settings, error=exc, seconds=time.monotonic() - started)
    return SiteAnswer(settings, value=value, seconds=time.monotonic() - started)


async def ask_sites(
    targets: list[Settings],
    call: Callable[[SkahaClient], Awaitable[T]],
    timeout_s: float = SITE_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
) -> list[SiteAnswer[T]]:
    """:func:`ask_one` for every site concurrently; answers in the order of ``targets``."""
    return list(await asyncio.gather(*(ask_one(s, call, timeout_s, progress) for s in targets)))
