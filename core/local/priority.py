"""Who goes first on the local platform, and whom a session may push back: CANFAR's Kueue rules in small.

CANFAR puts every session in one Kueue queue with two workload priorities, interactive kinds high and
headless low (reference/platform-2026.md §1). Within a priority the queue is strict FIFO. When the
head of the queue cannot be admitted, Kueue evicts running workloads of lower priority — the most
recently admitted first, and no more of them than the head needs (its ``minimalPreemptions``) —
and requeues them behind the work already waiting at their priority (requeuing by eviction time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

HEADLESS_PRIORITY = 10_000
INTERACTIVE_PRIORITY = 1_000_000
INTERACTIVE_KINDS = frozenset({"notebook", "desktop", "carta", "contributed", "firefly"})
EPSILON = 1e-9

Resources = tuple[float, float]
"""(cores, GiB)."""


def priority_of(kind: str) -> int:
    return INTERACTIVE_PRIORITY if kind in INTERACTIVE_KINDS else HEADLESS_PRIORITY


def fits(need: Resources, free: Resources) -> bool:
    return need[0] <= free[0] + EPSILON and need[1] <= free[1] + EPSILON


def plus(a: Resources, b: Resources) -> Resources:
    return a[0] + b[0], a[1] + b[1]


def minus(a: Resources, b: Resources) -> Resources:
    return a[0] - b[0], a[1] - b[1]


class AdmissionQueue:
    """Pending session records: highest priority first, each priority in the order it was queued."""

    def __init__(self) -> None:
        self._levels: dict[int, dict[str, dict]] = {}

    def add(self, record: dict) -> None:
        self._levels.setdefault(priority_of(record["type"]), {})[record["id"]] = record

    def discard(self, session_id: str) -> None:
        for level in self._levels.values():
            level.pop(session_id, None)

    def __iter__(self) -> Iterator[dict]:
        """The records in admission order (a copy: the queue may change while the caller walks it)."""
        ordered = [record for level in sorted(self._levels, reverse=True) for record in self._levels[level].values()]
        return iter(ordered)

    def __len__(self) -> int:
        return sum(map(len, self._levels.values()))


def victims_for(
    preemptor: dict, need: Resources, free: Resources, running: list[dict], demand: Callable[[dict], Resources]
) -> list[dict]:
    """The running records to evict so that ``need`` fits beside ``free``; [] when evicting every
    candidate (lower priority than ``preemptor``) would still not make room."""
    rank = priority_of(preemptor["type"])
    candidates = sorted(
        (r for r in running if priority_of(r["type"]) < rank),
        key=lambda r: (priority_of(r["type"]), -float(r.get("started") or 0.0)),
    )
    chosen: list[dict] = []
    for record in candidates:
        if fits(need, free):
            break
        chosen.append(record)
        free = plus(free, demand(record))
    if not fits(need, free):
        return []
    for record in reversed(chosen[:-1]):  # give back the ones the last choice made unnecessary
        without = minus(free, demand(record))
        if fits(need, without):
            chosen.remove(record)
            free = without
    return chosen
