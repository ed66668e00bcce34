"""Several sites in one Sessions table: ``srcnet-tui --site all`` (or ``--site a,b``).

Each poll asks every site at once through :mod:`srcnet_tui.core.multisite`, each within its own time
limit. A site that has not answered after a short grace is left asking in the background: the table
is drawn from the others' fresh answers and from that site's last known sessions, marked stale, so a
frozen site neither stalls nor blanks the others. A call about one session (logs, events, delete,
renew) goes to the site that listed it; resource questions (context, stats) go to the home site, the
one runs are launched at. Which sites, with which settings, is :func:`srcnet_tui.core.site_targets.site_settings`'s
answer, as for ``sessions --site``. Core's multisite (and with it the HTTP client) is imported at the first poll,
after the app's first frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from srcnet_tui.core.credentials import CredentialStatus
from srcnet_tui.core.errors import NotFound, Unreachable
from srcnet_tui.core.models import Session
from srcnet_tui.core.pending import explain_pending
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.sites import SITE_TIMEOUT_S
from srcnet_tui.tui.platform import Platform, error_line

if TYPE_CHECKING:
    from srcnet_tui.core.multisite import SiteAnswer
    from srcnet_tui.core.skaha import SkahaClient

T = TypeVar("T")
GRACE_S = 1.0
"""How long a poll waits for a slow site before it shows the others (the slow one keeps being asked)."""


@dataclass(frozen=True)
class SiteSession(Session):
    """A session and the site that listed it."""

    site: str = ""


def at_site(session: Session, site: str) -> SiteSession:
    return SiteSession(**{f.name: getattr(session, f.name) for f in fields(Session)}, site=site)


@dataclass
class SiteState:
    """What the table knows of one site: its last sessions, when it last answered, why it did not since."""

    name: str
    sessions: list[SiteSession] = field(default_factory=list)
    updated_at: datetime | None = None
    error: str | None = None
    """Why the last request failed (or why the site is not asked at all); None while it answers."""
    asked: bool = True
    """False for a site that cannot be asked as configured (no usable credential)."""

    @property
    def stale(self) -> bool:
        return self.error is not None and self.asked


async def ask_one(settings: Settings, call: Callable[[SkahaClient], Awaitable[T]], timeout_s: float) -> SiteAnswer[T]:
    """:func:`srcnet_tui.core.multisite.ask_one` (imported here, at the first request)."""
    from srcnet_tui.core import multisite

    return await multisite.ask_one(settings, call, timeout_s)


async def _listing(client: SkahaClient) -> list[Session]:
    return await client.list_sessions()


class SitesClient:
    """The few client methods the panes call, answered by several sites."""

    def __init__(
        self,
        targets: list[Settings],
        skipped: dict[str, str],
        home: Platform,
        clock: Callable[[], datetime],
        timeout_s: float = SITE_TIMEOUT_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self.home = home
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self._clock = clock
        self._targets = {s.site_name: s for s in targets}
        self.states = {name: SiteState(name) for name in self._targets}
        self.states.update({name: SiteState(name, error=why, asked=False) for name, why in skipped.items()})
        self._asking: dict[str, asyncio.Task[SiteAnswer[list[Session]]]] = {}
        self._site_of: dict[str, str] = {}
        """Session id -> the site that listed it."""

    @property
    def stale_sites(self) -> frozenset[str]:
        return frozenset(name for name, state in self.states.items() if state.stale)

    async def list_sessions(self, type: str | None = None, status: str | None = None) -> list[Session]:
        """Every site's sessions: fresh from the sites that answered, last known from the others."""
        if not self._targets:
            raise Unreachable("no site can be asked: " + "; ".join(f"{s.name} {s.error}" for s in self.states.values()))
        for name, settings in self._targets.items():
            if name not in self._asking:
                self._asking[name] = asyncio.create_task(ask_one(settings, _listing, self.timeout_s))
        _, pending = await asyncio.wait(self._asking.values(), timeout=self.grace_s)
        while pending and not self._any_answered():  # at first, nothing to show until one site answers
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            self._harvest()
        self._harvest()
        if not self._any_answered():
            raise Unreachable("no site answered: " + "; ".join(f"{s.name}: {s.error}" for s in self.states.values()))
        return [session for state in self.states.values() for session in state.sessions]

    def _any_answered(self) -> bool:
        return any(state.updated_at is not None for state in self.states.values())

    def _harvest(self) -> None:
        for name, task in list(self._asking.items()):
            if task.done():
                del self._asking[name]
                self._learn(self.states[name], task.result())

    def _learn(self, state: SiteState, answer: SiteAnswer[list[Session]]) -> None:
        if answer.error is not None:
            state.error = error_line(answer.error)
            return
        state.sessions = [at_site(s, state.name) for s in answer.value or []]
        state.updated_at, state.error = self._clock(), None
        self._site_of.update({s.id: state.name for s in state.sessions})

    async def pending_reasons(self, sessions: list[Any], seen_running: dict[str, datetime]) -> dict[str, str]:
        """Why each Pending session waits, each site asked about its own."""
        asked = [
            ask_one(
                self._targets[name],
                lambda client, mine=mine: explain_pending(client, mine, seen_running),  # type: ignore[misc]
                self.timeout_s,
            )
            for name in self._targets
            if (mine := [s for s in sessions if getattr(s, "site", "") == name])
        ]
        answers = await asyncio.gather(*asked)
        return {sid: why for answer in answers if answer.value for sid, why in answer.value.items()}

    async def _at_site_of(self, session_id: str, call: Callable[[SkahaClient], Awaitable[T]]) -> T:
        name = self._site_of.get(session_id)
        if name is None:
            raise NotFound(f"session {session_id}: no site lists it")
        answer = await ask_one(self._targets[name], call, self.timeout_s)
        if answer.error is not None:
            raise answer.error
        return answer.value  # type: ignore[return-value]

    async def logs(self, session_id: str) -> str:
        return await self._at_site_of(session_id, lambda client: client.logs(session_id))

    async def events(self, session_id: str) -> str:
        return await self._at_site_of(session_id, lambda client: client.events(session_id))

    async def delete(self, session_id: str) -> None:
        await self._at_site_of(session_id, lambda client: client.delete(session_id))

    async def renew(self, session_id: str) -> None:
        await self._at_site_of(session_id, lambda client: client.renew(session_id))

    async def context(self) -> dict:
        return await (await self.home.client()).context()

    async def stats(self) -> dict:
        return await (await self.home.client()).stats()

    async def aclose(self) -> None:
        for task in self._asking.values():
            task.cancel()
        self._asking.clear()


class SitesPlatform:
    """The app's platform when it shows several sites: :class:`SitesClient` over them, the home site beside."""

    def __init__(
        self,
        home: Settings,
        targets: list[Settings],
        skipped: dict[str, str],
        clock: Callable[[], datetime],
        timeout_s: float = SITE_TIMEOUT_S,
    ) -> None:
        self.settings = home
        self.home = Platform(home)
        self.sites = SitesClient(targets, skipped, self.home, clock, timeout_s)
        self.label = "sites " + ", ".join(self.sites.states)

    async def client(self) -> SitesClient:
        return self.sites

    async def credential(self) -> CredentialStatus:
        return await self.home.credential()

    async def recover(self) -> str | None:
        """Nothing to drop: every request opens its own connection to its site."""
        return None

    async def diagnose(self) -> str | None:
        return None

    async def reconnect(self) -> None:
        pass

    async def aclose(self) -> None:
        await self.sites.aclose()
        await self.home.aclose()
