"""How much a run will write, worked out before it launches, so that a run that cannot fit is refused.

A workload kind that can know its products' size says so with a :class:`SizeEstimate` (SoFiA-2 from
the outputs its parameter file enables and the size of each region; the Karabo AA* workflow from
seed 001's formulas). Estimates are minimums — data only, no headers or metadata — and ``--dry-run``
shows them with how they were worked out.
"""

from __future__ import annotations

from dataclasses import dataclass

from srcnet_tui.core.skaha_rules import GIB


@dataclass(frozen=True)
class SizeEstimate:
    """Bytes each task is expected to write, and one line saying how that was worked out."""

    per_task: tuple[int, ...]
    basis: str

    @property
    def total_bytes(self) -> int:
        return sum(self.per_task)

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    def line(self) -> str:
        largest = max(self.per_task, default=0) / GIB
        return f"estimated products: {self.total_gib:.3g} GiB in all, at most {largest:.3g} GiB a task ({self.basis})"

    def to_dict(self) -> dict:
        return {"total_bytes": self.total_bytes, "per_task_bytes": list(self.per_task), "basis": self.basis}


def gib(n_bytes: float) -> str:
    """``n_bytes`` as a short GiB figure for messages."""
    return f"{n_bytes / GIB:.3g} GiB"
