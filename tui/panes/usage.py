"""The Usage pane: what a run (or any folder of profile logs) cost, and what running sessions use now.

Profiles: ``o`` opens a folder or files of psrecord/recorder logs, or the Runs pane's ``u`` opens a
run of the ledger (its collected logs, with the cores each task requested); core's
:func:`srcnet_tui.core.usage.aggregate` gives the per-run rows and totals (the same numbers as ``aggregate``),
:func:`srcnet_tui.core.usage.timeseries` the CPU % and memory curves of the runs marked with ``space`` (all of
them, up to eight, until one is marked). Live: every poll of the Sessions pane adds each running
session's ``cpuCoresInUse``/``ramInUse`` to a bounded history, drawn while the pane is visible.
``v`` switches the charts between the two. Each run keeps one colour for the life of the pane, the
legend sits beside the charts, ticks fall on round values, the cores the tasks requested are drawn
as a grey line, and the y axis reaches every run's Peak.

pandas, plotext, :mod:`srcnet_tui.core.usage` and the run ledger are imported when the pane first needs
them (logs to read, charts to draw, a run to open), not before the app's first frame.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from srcnet_tui.core.skaha_rules import RUNNING
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.screens.help import bound_key
from srcnet_tui.tui.screens.modals import PromptModal, prompt
from srcnet_tui.tui.services import services
from srcnet_tui.tui.widgets.chart_style import REQUESTED_COLOUR, ColourBook, legend_text, round_ticks, tick_labels
from srcnet_tui.tui.widgets.keyed_table import KeyedTable
from srcnet_tui.tui.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

USAGE_COLUMNS = (
    ("mark", " "), ("run", "Name"), ("wall", "Wall s"), ("cpu", "CPU %"), ("peak", "Peak %"),
    ("rss", "RSS MiB"), ("cpuh", "CPU-h"), ("alloc", "Core-h"), ("eff", "Eff."), ("exit", "Exit"),
)  # fmt: skip
"""CPU % is the mean over the run (100 = one core busy), Core-h the core-hours allocated, Eff. CPU-h / Core-h."""
MAX_CHARTED = 8
CHART_TITLES = {
    False: (("CPU % of one core (profiles)", "CPU % of one core"), ("Memory MiB (profiles)", "Memory MiB")),
    True: (("Cores in use (live)", "Cores in use"), ("RAM in use GB (live)", "RAM in use GB")),
}
"""Chart titles by view (live or not), long and short for narrow charts."""
LIVE_SAMPLES = 720
"""Samples of live use kept per session (an hour at the default 5 s poll)."""
LIVE_KEPT_S = 600.0
"""A session that stopped running stays in the live charts this long (short tasks stay visible)."""


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def usage_cells(row: dict, marked: bool) -> tuple:
    """One aggregate row as table cells; the numbers are core's, only rounded for display."""
    exit_text = f"sig {row['signal']}" if row.get("signal") else str(row.get("exit_code", "-"))
    return (
        "●" if marked else " ", row["run"], _num(row["wall_s"], 1), _num(row["cpu_mean_pct"], 1),
        _num(row["cpu_peak_pct"], 1), _num(row["rss_peak_mib"], 1), _num(row["cpu_hours"], 4),
        _num(row.get("alloc_core_hours"), 4), _pct(row.get("efficiency")), exit_text,
    )  # fmt: skip


def totals_text(total: dict, noun: str = "runs") -> Text:
    text = Text.assemble(
        ("Total ", "bold"),
        f"{total['runs']} {noun} · wall {total['wall_s']:.1f} s · makespan {total['makespan_s']:.1f} s",
        f" · {total['cpu_hours']:.4f} CPU-h · peak RSS {total['rss_peak_mib']:.0f} MiB",
    )
    if total.get("alloc_core_hours") is not None:
        text.append(
            f" · {total['alloc_core_hours']:.4f} core-h allocated · efficiency {_pct(total.get('efficiency'))}", style="bold"
        )
    return text


class UsagePane(ReportsWorkerErrors, Vertical):
    """Per-run usage table with totals, and CPU/memory charts (profiles or live)."""

    BINDINGS = keys(
        "usage",
        ("o", "open", "Open logs"),
        ("space", "mark", "Chart run"),
        ("v", "toggle_view", "Profiles/live", True, "view"),
        ("c", "cores", "Cores"),
        ("ctrl+r", "reload", "Reload", False),
    )

    live_view: reactive[bool] = reactive(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paths: list[Path] = []
        self.cores: float | None = None
        """Cores every run was given, as the user typed it (``c``); None: from the ledger or the logs."""
        self.run_id: str | None = None
        self.run_tasks: list[Any] = []
        """The task profiles (path, name, cores requested) of a run opened from the ledger."""
        self.report: dict | None = None
        self.series: Any = None
        self.marks: set[str] = set()
        self.live: dict[str, deque] = {}
        self.live_names: dict[str, str] = {}
        self.live_at: float | None = None
        """When the last poll came back (the charts' "now")."""
        self.live_requested: dict[str, float] = {}
        """Cores each live session requested."""
        self.colours = ColourBook()

    def compose(self) -> ComposeResult:
        hint = f"No logs open: press {self._key('open')} to open a folder of profile logs ({self._key('view')} shows live use)"
        yield Static(hint, id="usage-source")
        yield KeyedTable(USAGE_COLUMNS, id="usage-runs", classes="empty")  # the charts take the room until logs are open
        yield Static(id="usage-total")
        with Horizontal(id="usage-charts"):  # the charts come with the first draw (see charts())
            yield Static(id="usage-legend")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#usage-runs", KeyedTable)

    def _key(self, name: str) -> str:
        return bound_key(self, f"usage.{name}")

    # ---- profiles ------------------------------------------------------------------------------

    def action_open(self) -> None:
        start = str(self.paths[0]) if self.paths else str(Path.cwd())
        prompt(self.app, "Profile logs: a folder or files (space-separated)", start,
               lambda text: self.open_paths([Path(p).expanduser() for p in text.split()]))  # fmt: skip

    def open_paths(self, paths: list[Path], run_id: str | None = None, tasks: list[Any] | None = None) -> None:
        """Profile logs (files or folders) to aggregate; a run's come with its tasks' names and cores."""
        self.paths = paths
        self.run_id = run_id
        self.run_tasks = tasks or []
        self.marks.clear()
        self.load()

    @work(exclusive=True, group="usage-load", exit_on_error=False, description="read a run's profile logs")
    async def open_run(self, run: Any) -> None:
        """A run of the ledger: its collected profile logs, each with the cores its task requested."""
        from srcnet_tui.tui import runs_adapter

        tasks = await asyncio.to_thread(runs_adapter.run_profiles, services(self).settings, run)
        if not tasks:
            self.notify(f"Run {run.id} has no profile logs yet (they come back when its tasks end).", title="Usage")
            return
        self.open_paths([task.path for task in tasks], run.id, tasks)

    def action_reload(self) -> None:
        if self.paths:
            self.load()

    def action_cores(self) -> None:
        def chosen(text: str | None) -> None:
            try:
                self.cores = float(text) if text else None
            except ValueError:
                self.notify(f"cores: {text!r} is not a number", severity="error", title="Usage")
                return
            self.action_reload()

        shown = "" if self.cores is None else f"{self.cores:g}"
        self.app.push_screen(PromptModal("Cores each run was given (for efficiency; empty: from the logs)", shown), chosen)

    @work(exclusive=True, group="usage-load", exit_on_error=False, description="aggregate profile logs")
    async def load(self) -> None:
        result, report, series = await asyncio.to_thread(self._read, list(self.paths), self.run_tasks, self.cores)
        if result.problems:
            more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
            self.notify(result.problems[0] + more, title="Usage: some logs skipped", severity="warning")
        self.report, self.series = report, series
        self.colours.learn(row["run"] for row in report["runs"])
        self.live_view = False
        self._show_report()

    @staticmethod
    def _read(paths: list[Path], tasks: list[Any], cores: float | None) -> tuple[Any, dict, Any]:
        """Load and aggregate; a run's rows are named after its tasks and given the cores each requested
        (unless the user set one number for all with ``c``)."""
        from srcnet_tui.core import usage

        result = usage.load(paths, names={str(t.path): t.name for t in tasks})
        requested = {t.name: t.cores for t in tasks if t.cores} if cores is None and tasks else cores
        return result, usage.aggregate(result.runs, cores=requested), usage.timeseries(result.runs)

    def _show_report(self) -> None:
        if self.report is None:
            return
        rows = {row["run"]: usage_cells(row, row["run"] in self.marks) for row in self.report["runs"]}
        self.table.sync(rows)
        self.table.remove_class("empty")
        self.query_one("#usage-total", Static).update(totals_text(self.report["total"], "tasks" if self.run_id else "runs"))
        self.query_one("#usage-source", Static).update(self._source_text(len(rows)))
        self.draw()

    def _source_text(self, count: int) -> Text:
        if self.cores is not None:
            cores = f"{self.cores:g} cores each ({self._key('cores')})"
        elif self.run_tasks:
            cores = "cores as requested"
        else:
            cores = f"cores from the logs ({self._key('cores')} sets them)"
        if self.run_id:
            where = Text.assemble(("run ", "dim"), (self.run_id, "bold"), f" · {count} tasks")
        else:
            where = Text.assemble(("logs: ", "dim"), (" ".join(map(str, self.paths)), "bold"), f" · {count} runs")
        return where.append(f" · {cores}", style="dim")

    def action_mark(self) -> None:
        key = self.table.current_key
        if key is None or self.report is None:
            return
        self.marks ^= {key}
        self._show_report()
        self.table.action_cursor_down()

    def charted_runs(self) -> list[str]:
        names = [row["run"] for row in self.report["runs"]] if self.report else []
        chosen = [n for n in names if n in self.marks] or names
        return chosen[:MAX_CHARTED]

    # ---- live ------------------------------------------------------------------------------------

    def record_live(self, sessions: list[Any], at: datetime) -> None:
        """Add a poll's live use of running sessions to the history (called for every poll); the
        history of a session that stopped running is dropped once it is older than LIVE_KEPT_S."""
        stamp = self.live_at = at.timestamp()
        for old in [sid for sid, history in self.live.items() if stamp - history[-1][0] > LIVE_KEPT_S]:
            del self.live[old]
        for session in sessions:
            if session.status == RUNNING and session.cores_in_use is not None:
                history = self.live.setdefault(session.id, deque(maxlen=LIVE_SAMPLES))
                history.append((stamp, session.cores_in_use, session.ram_in_use_gb or 0.0))
                self.live_names[session.id] = session.name
                if session.requested_cores:
                    self.live_requested[session.id] = session.requested_cores
                self.colours.colour(session.id)
        if self.live_view:
            self.draw()

    def is_visible_pane(self) -> bool:
        """Is this pane's tab the one shown? (The tabs not shown are hidden: display off.)"""
        return all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))

    def action_toggle_view(self) -> None:
        self.live_view = not self.live_view

    def watch_live_view(self) -> None:
        if self.is_mounted:
            self.draw()

    def on_show(self) -> None:
        self.draw()

    def on_resize(self) -> None:
        self.draw()

    # ---- charts ----------------------------------------------------------------------------------

    def charts(self) -> tuple[PlotextPlot, PlotextPlot]:
        """The CPU and memory charts, mounted the first time they are drawn (plotting is imported then)."""
        from textual_plotext import PlotextPlot

        box = self.query_one("#usage-charts", Horizontal)
        if not box.query(PlotextPlot):
            box.mount(PlotextPlot(id="usage-cpu"), PlotextPlot(id="usage-mem"), before="#usage-legend")
        return box.query_one("#usage-cpu", PlotextPlot), box.query_one("#usage-mem", PlotextPlot)

    def draw(self) -> None:
        """Redraw the charts of the pane being looked at (a hidden pane is drawn when it is shown)."""
        if not self.is_visible_pane():
            return
        cpu, mem = self.charts()
        if not cpu.size.width:  # just mounted: titles and ticks are chosen for the size the charts get
            self.call_after_refresh(self.draw)
            return
        for chart in (cpu, mem):
            chart.plt.clear_data()
            chart.plt.clear_figure()
        drawn = self._draw_live(cpu.plt, mem.plt) if self.live_view else self._draw_profiles(cpu.plt, mem.plt)
        for chart, (long, short) in zip((cpu, mem), CHART_TITLES[self.live_view]):
            chart.plt.title(long if len(long) + 4 <= chart.size.width else short)  # plotext drops a title too wide
        self.query_one("#usage-legend", Static).update(drawn)
        cpu.refresh()
        mem.refresh()

    def _draw_profiles(self, cpu: Any, mem: Any) -> Text:
        """The marked runs' curves; the legend's entries name each run with its Peak (the table's)."""
        cpu.xlabel("elapsed s")
        mem.xlabel("elapsed s")
        if self.series is None or self.report is None:
            return Text("profiles\n", style="bold").append_text(legend_text([], None))
        peaks = {row["run"]: row for row in self.report["runs"]}
        lines = []
        for name in self.charted_runs():
            part = self.series[self.series["run"] == name]
            t, colour = part["t"].tolist(), self.colours.colour(name)
            cpu_values, mem_values = part["cpu"].tolist(), part["mem"].tolist()
            cpu.plot(t, cpu_values, color=colour)
            mem.plot(t, mem_values, color=colour)
            row = peaks.get(name, {})
            lines.append(
                (name, colour, t, [row.get("cpu_peak_pct") or 0.0, *cpu_values], [row.get("rss_peak_mib") or 0.0, *mem_values])
            )
        requested = sorted({c * 100 for c in self._requested_cores(self.charted_runs())})
        legend = self._finish(cpu, mem, lines, requested, lambda v: f"{v:g} % requested", self._peak_note)
        return Text("profiles\n", style="bold").append_text(legend)

    def _requested_cores(self, names: list[str]) -> set[float]:
        if self.cores is not None:
            return {self.cores}
        return {t.cores for t in self.run_tasks if t.cores and t.name in names}

    def _peak_note(self, name: str) -> str:
        row = next((r for r in (self.report or {}).get("runs", []) if r["run"] == name), None)
        return f"peak {row['cpu_peak_pct']:.0f} %" if row and row.get("cpu_peak_pct") is not None else ""

    def _draw_live(self, cpu: Any, mem: Any) -> Text:
        shown = sorted(self.live, key=lambda sid: self.live[sid][-1][0], reverse=True)[:MAX_CHARTED]
        now = self.live_at or 0.0
        running = sum(1 for sid in shown if self.live[sid][-1][0] >= now)
        cpu.xlabel("seconds ago")
        mem.xlabel("seconds ago")
        lines = []
        for sid in shown:
            samples = list(self.live[sid])
            ago, colour = [t - now for t, _, _ in samples], self.colours.colour(sid)
            cores, ram = [c for _, c, _ in samples], [r for _, _, r in samples]
            cpu.plot(ago, cores, color=colour)
            mem.plot(ago, ram, color=colour)
            lines.append((self.live_names.get(sid, sid), colour, ago, cores, ram))
        requested = sorted({self.live_requested[sid] for sid in shown if sid in self.live_requested})
        legend = self._finish(cpu, mem, lines, requested, lambda v: f"{v:g} core{'' if v == 1 else 's'} requested", lambda _: "")
        return Text(f"live: {running} running, {len(shown) - running} ended\n", style="bold").append_text(legend)

    def _finish(
        self, cpu: Any, mem: Any, lines: list[tuple], requested: list[float], said: Callable[[float], str], note: Any
    ) -> Text:
        """Round ticks on both axes reaching every value drawn, the requested line(s), and the legend."""
        if not lines:
            return legend_text([], None)
        for value in requested:
            cpu.horizontal_line(value, color=REQUESTED_COLOUR)
        times = [t for line in lines for t in line[2]] or [0.0]
        x_ticks = round_ticks(min(times), max(times))
        for chart, values in (
            (cpu, [v for line in lines for v in line[3]] + requested),
            (mem, [v for line in lines for v in line[4]]),
        ):
            y_ticks = round_ticks(0.0, max([*values, 0.0]) or 1.0)
            chart.yticks(y_ticks, tick_labels(y_ticks))
            chart.ylim(y_ticks[0], y_ticks[-1])
            chart.xticks(x_ticks, tick_labels(x_ticks))
            chart.xlim(x_ticks[0], x_ticks[-1])
        entries = [(name, colour, note(name)) for name, colour, *_ in lines]
        return legend_text(entries, " / ".join(said(v) for v in requested) or None)
