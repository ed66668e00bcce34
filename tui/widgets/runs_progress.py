"""Progress of every run above the sessions table, one bar of its tasks by state, as condor_watch_q draws them.

A run is the sessions that share a name but the ``-N`` replica suffix (how runs and replicas are
named). The first line adds up every session shown; the runs with sessions still going come next.
At 80x24 only :data:`MAX_RUN_LINES` runs fit, the rest are counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from srcnet_tui.core.skaha_rules import ACTIVE_STATUSES, COMPLETED, FAILED, PENDING, RUNNING, TERMINATING
from srcnet_tui.tui.widgets.bars import STATE_STYLES, state_bar
from srcnet_tui.tui.widgets.sessions_table import run_of

MAX_RUN_LINES = 3
NAME_CELLS = 18
COUNT_WORDS = ((RUNNING, "run"), (PENDING, "wait"), (FAILED, "fail"), (TERMINATING, "del"))
"""How the counts after a bar name the states (done comes first, as ``done/total``)."""


def group_by_run(sessions: Iterable[Any]) -> dict[str, Counter[str]]:
    """Sessions counted by state, per run."""
    runs: dict[str, Counter[str]] = {}
    for session in sessions:
        runs.setdefault(run_of(session.name), Counter())[session.status] += 1
    return runs


def counts_text(counts: Counter[str]) -> Text:
    """``3/7 done  2 run  1 wait  1 fail``: done out of all, then every other state present."""
    text = Text(f"{counts[COMPLETED]}/{counts.total()} done", style=STATE_STYLES[COMPLETED])
    for state, word in COUNT_WORDS:
        if counts[state]:
            text.append(f"  {counts[state]} {word}", style=STATE_STYLES[state])
    return text


def progress_line(name: str, counts: Counter[str], width: int) -> Text:
    """One run: its name, its bar filling what the counts leave, its counts."""
    label = Text(name[: NAME_CELLS - 1].ljust(NAME_CELLS), style="bold")
    numbers = counts_text(counts)
    bar_cells = max(4, width - NAME_CELLS - numbers.cell_len - 2)
    return Text.assemble(label, state_bar(dict(counts), bar_cells), " ", numbers)


def still_going(counts: Counter[str]) -> bool:
    return any(counts[state] for state in ACTIVE_STATUSES)


class RunsProgress(Widget):
    """All sessions, then each run, as a bar of states (green done, cyan running, yellow waiting, red failed)."""

    runs: reactive[dict[str, Counter[str]]] = reactive(dict, layout=True)

    def show(self, sessions: Iterable[Any]) -> None:
        self.runs = group_by_run(sessions)

    def render(self) -> Text:
        width = self.size.width
        total: Counter[str] = Counter()
        for counts in self.runs.values():
            total += counts
        lines = [progress_line("all sessions" if len(self.runs) < 2 else f"all {len(self.runs)} runs", total, width)]
        if len(self.runs) > 1:
            order = sorted(self.runs, key=lambda name: (not still_going(self.runs[name]), name))
            lines += [progress_line(name, self.runs[name], width) for name in order[:MAX_RUN_LINES]]
            if len(order) > MAX_RUN_LINES:
                lines.append(Text(f"  … {len(order) - MAX_RUN_LINES} more runs", style="dim"))
        return Text("\n").join(lines)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        runs = len(self.runs)
        return 1 if runs <= 1 else 1 + min(runs, MAX_RUN_LINES) + (runs > MAX_RUN_LINES)
