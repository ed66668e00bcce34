"""Fault injection for tests and benchmarks: latency, 503 answers, connections dropped after acting, preemption.

Off by default. A seeded generator makes a run reproducible for a given request order. A dropped
connection is decided *after* the server acted, so the client cannot know whether (for example) a
create happened: exactly the ambiguity a real network produces. With ``preempt_on_request``, a
``POST session/ID`` with ``action=preempt`` evicts that Running session as a higher-priority arrival
would (Skaha has no such action: without the flag it is refused as any unknown action is).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: float = 0.0
    rate_503: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None
    preempt_on_request: bool = False

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.rate_503 or self.drop_rate or self.preempt_on_request)


class Faults:
    """Thread-safe dice for one server."""

    def __init__(self, config: FaultConfig):
        self.config = config
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def delay(self) -> None:
        if self.config.latency_ms > 0:
            time.sleep(self.config.latency_ms / 1000.0)

    def answer_503(self) -> bool:
        return self._roll(self.config.rate_503)

    def drop_after_acting(self) -> bool:
        return self._roll(self.config.drop_rate)

    def may_preempt(self) -> bool:
        """True when clients may force a preemption (``action=preempt``)."""
        return self.config.preempt_on_request
