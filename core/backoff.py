"""One backoff policy for every loop that waits and tries again: retries, polls and start-up waits.

A :class:`Backoff` says how long to pause before the next try: ``first_s``, growing by ``factor`` per
step up to ``cap_s``, optionally drawn uniformly below that ("full jitter", so clients that failed
together do not come back together), and a server's Retry-After honoured up to ``cap_s``. Bounded
loops (the client's retries, waiting for the local daemon) take a :class:`Schedule`, which also stops
after ``attempts`` tries or once a pause would end past ``total_s``. Endless polls (``wait``, log
follow, a run's watch, the TUI's reconnects) call :meth:`Backoff.pause` with their own step count:
0 after a round that made progress, one more after each round that did not.

The library alternatives (stamina, tenacity) wrap a function call; the client has to look for an
ambiguous create before each resend and report retries as they happen, and the polls are not retries
at all, so one small policy object serves every loop with less code than adapting either.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Pauses from ``first_s`` growing by ``factor`` to ``cap_s``; ``attempts``/``total_s`` bound a :class:`Schedule` (None: no bound)."""

    first_s: float = 0.25
    factor: float = 2.0
    cap_s: float = 10.0
    attempts: int | None = None
    total_s: float | None = None
    jitter: bool = False

    def pause(self, step: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """The pause after ``step`` earlier pauses (0: ``first_s``); a Retry-After replaces it, up to ``cap_s``."""
        draw = (rng or _RANDOM).uniform
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s) + (draw(0, self.first_s) if self.jitter else 0.0)
        ceiling = min(self.cap_s, self.first_s * self.factor ** min(step, 64))
        return draw(0, ceiling) if self.jitter else ceiling

    def within(self, total_s: float) -> Backoff:
        """The same pauses, bounded by ``total_s`` seconds."""
        return replace(self, total_s=total_s)

    def start(self, clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> Schedule:
        """A schedule whose time starts now (``clock`` and ``rng`` injectable for tests)."""
        return Schedule(self, clock, rng)


_RANDOM = random.Random()


class Schedule:
    """One bounded use of a :class:`Backoff`: counts the tries made and keeps the time budget."""

    def __init__(self, policy: Backoff, clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None):
        self.policy = policy
        self.tries = 1  # the schedule starts as the first try is made
        self._clock = clock
        self._rng = rng
        self._started = clock()

    def elapsed(self) -> float:
        return self._clock() - self._started

    def next_pause(self, retry_after: float | None = None) -> float | None:
        """The pause before another try, or None when the tries or the time are used up."""
        policy = self.policy
        if policy.attempts is not None and self.tries >= policy.attempts:
            return None
        pause = policy.pause(self.tries - 1, retry_after, self._rng)
        if policy.total_s is not None and self.elapsed() + pause > policy.total_s:
            return None
        self.tries += 1
        return pause


def wait_until(
    check: Callable[[], T],
    policy: Backoff,
    *,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``check`` until it answers something true, pausing as ``policy`` says; its last answer
    (false when the policy's tries or time ran out). Exceptions from ``check`` propagate."""
    schedule = policy.start(clock)
    while True:
        answer = check()
        if answer:
            return answer
        pause = schedule.next_pause()
        if pause is None:
            return answer
        sleep(pause)
