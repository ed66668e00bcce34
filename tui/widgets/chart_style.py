"""How the Usage charts look: one colour per run that never changes, round ticks, a legend beside the plot.

plotext picks colours by the order lines are drawn, so marking a run used to recolour the others,
and it draws its legend over the data. Here each run gets a colour the first time it is seen
(:class:`ColourBook`), lines are drawn in it without plotext's legend, and :func:`legend_text` lists
them beside the charts in the same colours. Ticks fall on 1, 2 or 5 times a power of ten
(:func:`round_ticks`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from rich.text import Text

PALETTE = (39, 208, 40, 199, 226, 45, 160, 141, 250, 130)
"""xterm-256 colours that differ on dark and light backgrounds (plotext and rich both take the numbers)."""
REQUESTED_COLOUR = 244
"""The grey of the requested-cores line."""


class ColourBook:
    """A colour per name, given the first time the name is seen and kept for the life of the pane."""

    def __init__(self) -> None:
        self._given: dict[str, int] = {}

    def colour(self, name: str) -> int:
        if name not in self._given:
            self._given[name] = PALETTE[len(self._given) % len(PALETTE)]
        return self._given[name]

    def learn(self, names: Iterable[str]) -> None:
        """Give colours in this order (a report's rows), so the colours follow the table, not what is charted."""
        for name in names:
            self.colour(name)


def round_step(span: float, count: int = 5) -> float:
    """The 1/2/5 x 10^k step that cuts ``span`` into about ``count`` parts."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def round_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Ticks on round values from at or below ``low`` to at or above ``high``."""
    step = round_step(high - low, count)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    ticks = [round(first + i * step, 12) for i in range(round((last - first) / step) + 1)]
    return ticks if len(ticks) > 1 else [first, first + step]


def tick_labels(ticks: list[float]) -> list[str]:
    return [f"{t:.10g}" for t in ticks]


def legend_text(entries: Iterable[tuple[str, int, str]], requested: str | None, width: int = 20) -> Text:
    """``■ name  note`` per line, in each line's colour; then the requested line, when drawn."""
    text = Text()
    for name, colour, note in entries:
        shown = name if len(name) <= width - 2 else "…" + name[-(width - 3) :]
        text.append("■ ", style=f"color({colour})")
        text.append(shown + "\n")
        if note:
            text.append(f"  {note}\n", style="dim")
    if requested:
        text.append("━ ", style=f"color({REQUESTED_COLOUR})")
        text.append(requested, style="dim")
    text.rstrip()
    return text if text.plain else Text("(nothing to chart)", style="dim")
