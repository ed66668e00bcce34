"""Why is a session Pending? The client's estimate, worked out from what the platform shows.

Skaha exposes no queue, priority or reason (reference/platform-2026.md §1): a queued session is just
``Pending``, for seconds or hours, and a preempted one goes back to ``Pending`` with its start time
gone. The simple cases can be explained from the site's ``/context`` (what one session may ask for),
``view=stats`` (cores and RAM allocated against the queue's quota; advisory: it is cached, and answers
503 when its metrics fail, which is no error here) and the user's own sessions. Every reason says it
is the client's estimate, not the platform's word.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from srcnet_tui.core.errors import SrcnetError
from srcnet_tui.core.models import Session, parse_cores, parse_events, parse_gb, parse_time
from srcnet_tui.core.skaha_rules import GIB, PENDING, RUNNING

if TYPE_CHECKING:
    from srcnet_tui.core.skaha import SkahaClient

ESTIMATE = "client's estimate"
ADVISORY_WAIT_S = 3.0
"""How long ``/context`` and ``view=stats`` may take (retries included) before a reason does without them."""
EVENTS_FOR_AT_MOST = 10
"""Pending sessions whose events are read to spot a preemption (one request each)."""
PREEMPTED_REASONS = ("preempted", "evicted")


@dataclass(frozen=True)
class Platform:
    """The site's ``/context`` and ``view=stats``, each None when it could not be had."""

    context: dict | None = None
    stats: dict | None = None


def _number(text: float) -> str:
    return f"{text:.1f}".rstrip("0").rstrip(".")


def _largest_option(context: dict | None, key: str, legacy: str) -> float | None:
    if not isinstance(context, dict):
        return None
    block = context.get(key)
    options = block.get("options") if isinstance(block, dict) else context.get(legacy)
    numbers = [float(o) for o in options or [] if isinstance(o, (int, float)) and not isinstance(o, bool)]
    return max(numbers) if numbers else None


def _over_maximum(session: Session, context: dict | None) -> str | None:
    max_cores = _largest_option(context, "cores", "availableCores")
    if max_cores is not None and session.requested_cores and session.requested_cores > max_cores + 1e-9:
        return f"exceeds this site's maximum ({_number(max_cores)} cores)"
    max_gib = _largest_option(context, "memoryGB", "availableRAM")
    if max_gib is not None and session.requested_ram_gb and session.requested_ram_gb * 1e9 / GIB > max_gib + 0.01:
        return f"exceeds this site's maximum ({_number(max_gib)} GiB RAM)"
    max_gpus = _largest_option(context, "gpus", "availableGPUs")
    if max_gpus is not None and session.requested_gpus and session.requested_gpus > max_gpus:
        return f"exceeds this site's maximum ({_number(max_gpus)} GPUs)"
    return None


def _free(stats: dict | None, kind: str) -> tuple[float, float] | None:
    """``(free, total)`` cores or decimal GB of the queue's quota, from ``view=stats`` (current or 2022 names)."""
    block = stats.get(kind) if isinstance(stats, dict) else None
    if not isinstance(block, dict):
        return None
    parse = parse_cores if kind == "cores" else parse_gb
    names = (
        ("requestedCPUCores", ("cpuCoresAvailable", "coresAvailable")) if kind == "cores" else ("requestedRAM", ("ramAvailable",))
    )
    used = parse(block.get(names[0]))
    total = next((parse(block.get(name)) for name in names[1] if parse(block.get(name)) is not None), None)
    if used is None or total is None:
        return None
    return max(total - used, 0.0), total


def _short_of_room(session: Session, stats: dict | None) -> str | None:
    for kind, need, unit in (("cores", session.requested_cores, "cores"), ("ram", session.requested_ram_gb, "GB RAM")):
        room = _free(stats, kind)
        if need and room is not None and need > room[0] + 1e-9:
            return f"queued: needs {_number(need)} {unit}, {_number(room[0])} of {_number(room[1])} free"
    return None


def _preempted(events: list[dict], seen_running_at: datetime | None) -> str | None:
    for event in reversed(events):
        text = f"{event.get('reason', '')} {event.get('message', '')}".lower()
        if any(word in text for word in PREEMPTED_REASONS):
            moment = parse_time(event.get("last_time")) or parse_time(event.get("first_time"))
            return f"preempted at {moment:%H:%M} UTC, queued again" if moment else "preempted, queued again"
    if seen_running_at is not None:
        return f"was Running at {seen_running_at:%H:%M} UTC: preempted, queued again"
    return None


def _still_queued(session: Session, platform: Platform, own: list[Session]) -> str:
    others = [s for s in own if s.status == PENDING and s.id != session.id]
    if platform.stats is None:
        held = sum(s.requested_cores or 0 for s in own if s.status == RUNNING)
        need = f"needs {_number(session.requested_cores)} cores; " if session.requested_cores else ""
        return f"queued: {need}site load unknown (view=stats unavailable); your running sessions hold {_number(held)} cores"
    if session.requested_cores is None:
        return "queued: a flexible session, waiting for the platform to admit it"
    if others:
        return f"queued: room appears free; {len(others)} other Pending session(s) of yours wait too (queue order, fair share)"
    return "queued: room appears free; waiting for the platform to admit it (priority, fair share)"


def pending_reason(
    session: Session,
    platform: Platform,
    own_sessions: Iterable[Session] = (),
    events: list[dict] | None = None,
    seen_running_at: datetime | None = None,
) -> str | None:
    """Why ``session`` is Pending, as the client estimates it; None when it is not Pending.

    ``events`` are its parsed events (a preemption shows there); ``seen_running_at`` is when the caller
    last saw it Running, if it did (a session Pending again after that was preempted).
    """
    if session.status != PENDING:
        return None
    reason = (
        _preempted(events or [], seen_running_at)
        or _over_maximum(session, platform.context)
        or _short_of_room(session, platform.stats)
        or _still_queued(session, platform, list(own_sessions))
    )
    return f"{reason} ({ESTIMATE})"


async def _advisory(call) -> dict | None:
    """``await call()`` within :data:`ADVISORY_WAIT_S`; None when it fails or takes longer (advisory only)."""
    try:
        async with asyncio.timeout(ADVISORY_WAIT_S):
            data = await call()
    except (SrcnetError, TimeoutError):
        return None
    return data if isinstance(data, dict) else None


async def _events_of(client: SkahaClient, session_id: str) -> list[dict]:
    """Parsed events; none when they 404 (as for a queued session) or cannot be had in time."""
    try:
        async with asyncio.timeout(ADVISORY_WAIT_S):
            return parse_events(await client.events(session_id))
    except (SrcnetError, TimeoutError):
        return []


async def explain_pending(
    client: SkahaClient, sessions: list[Session], seen_running: dict[str, datetime] | None = None
) -> dict[str, str]:
    """A reason for each Pending session of ``sessions`` (the user's listing), keyed by id.

    Reads ``/context``, ``view=stats`` and (for the first few) the events, concurrently and each within
    :data:`ADVISORY_WAIT_S`; nothing is fetched when no session is Pending. ``seen_running`` maps ids to
    when the caller last saw them Running (the TUI keeps that).
    """
    waiting = [s for s in sessions if s.status == PENDING]
    if not waiting:
        return {}
    context, stats, *events = await asyncio.gather(
        _advisory(client.context), _advisory(client.stats), *(_events_of(client, s.id) for s in waiting[:EVENTS_FOR_AT_MOST])
    )
    platform = Platform(context, stats)
    seen = seen_running or {}
    reasons = {}
    for i, session in enumerate(waiting):
        found = events[i] if i < len(events) else None
        reason = pending_reason(session, platform, sessions, found, seen.get(session.id))
        if reason:
            reasons[session.id] = reason
    return reasons
