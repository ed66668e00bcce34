"""Text bars for the Sessions dashboard: use against request (btop), and tasks by state (condor_watch_q).

Both are plain :class:`rich.text.Text`, so a table cell or a ``Static`` shows them and a poll that
changes nothing compares equal to the last one (the keyed table then leaves the cell alone).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from srcnet_tui.core.skaha_rules import COMPLETED, FAILED, PENDING, RUNNING, TERMINATING

USE_CELLS = 5
"""Width of a use bar: 5 cells draw 10 % steps with half blocks."""
STATE_STYLES = {
    COMPLETED: "green",
    RUNNING: "cyan",
    PENDING: "yellow",
    FAILED: "red",
    TERMINATING: "magenta",
}
"""One colour per state, in the order a progress bar draws them: done first, waiting last but failed."""
STATE_ORDER = (COMPLETED, FAILED, RUNNING, TERMINATING, PENDING)


def use_style(fraction: float) -> str:
    """Green under 70 % of the request, yellow to 90 %, red above (a session near its limit)."""
    if fraction >= 0.9:
        return "bold red"
    return "yellow" if fraction >= 0.7 else "green"


def use_bar(used: float | None, requested: float | None, cells: int = USE_CELLS) -> Text:
    """``███▌░`` of ``used / requested``; blank when either is unknown (a session not yet running)."""
    if used is None or not requested:
        return Text(" " * cells)
    fraction = max(0.0, used / requested)
    halves = min(2 * cells, round(min(fraction, 1.0) * 2 * cells))
    if used > 0 and halves == 0:
        halves = 1  # a session that uses anything shows it
    full, half = divmod(halves, 2)
    drawn = "█" * full + ("▌" if half else "")
    return Text.assemble((drawn, use_style(fraction)), ("░" * (cells - len(drawn)), "dim"))


def state_bar(counts: dict[str, int], cells: int) -> Text:
    """One cell run per state, in :data:`STATE_ORDER`, proportional to its count (every state present shows)."""
    total = sum(counts.values())
    text = Text()
    if total == 0 or cells <= 0:
        return Text("░" * max(0, cells), style="dim")
    shown = [(state, counts.get(state, 0)) for state in _states(counts) if counts.get(state, 0)]
    widths = _apportion([n for _, n in shown], cells)
    for (state, _), width in zip(shown, widths):
        text.append("█" * width, style=STATE_STYLES.get(state, "white"))
    return text


def _states(counts: dict[str, int]) -> Iterable[str]:
    yield from STATE_ORDER
    yield from sorted(set(counts) - set(STATE_ORDER))


def _apportion(amounts: list[int], cells: int) -> list[int]:
    """``cells`` split in proportion to ``amounts``, each non-zero amount at least one cell (largest remainders)."""
    total = sum(amounts)
    if len(amounts) > cells:
        cells = len(amounts)
    exact = [cells * n / total for n in amounts]
    widths = [max(1, int(x)) for x in exact]
    by_remainder = sorted(range(len(amounts)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for i in by_remainder:
        if sum(widths) >= cells:
            break
        widths[i] += 1
    while sum(widths) > cells:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        widths[widest] -= 1
    return widths
