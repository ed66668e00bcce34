"""The Usage pane: what a run (or any folder of profile logs) cost, and what running sessions use now.

Profiles: ``o`` opens a folder or files of psrecord/recorder logs, or the Runs pane's ``u`` opens a
run of the ledger (its collected logs, with the cores each task requested); core's
:func:`srcnet_tui.core.usage.aggregate` gives the per-run rows and totals (the same numbers as ``aggregate``),
:func:`srcnet_tui.core.usage.timeseries` the CPU % and memory curves of the runs marked with ``space`` (all of
them, up to eight, until one is marked). Live: every poll of the Sessions pane adds each running
session's ``cpuCoresInUse``/``ramInUse`` to a bounded history, drawn while the pane is visible.
``v`` switches the charts between the two.

pandas, plotext and :mod:`srcnet_tui.core.usage` are imported when the pane first needs them (logs
to read, charts to draw), not before the app's first frame.
"""

from __future__ import annotations

import asyncio
from collections import deque
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
from srcnet_tui.tui import runs_adapter
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.screens.modals import PromptModal, prompt
from srcnet_tui.tui.services import services
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

    def compose(self) -> ComposeResult:
        yield Static("No logs open: press o to open a folder of profile logs (v shows live use)", id="usage-source")
        yield KeyedTable(USAGE_COLUMNS, id="usage-runs", classes="empty")  # the charts take the room until logs are open
        yield Static(id="usage-total")
        yield Horizontal(id="usage-charts")  # the charts come with the first draw (see charts())

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#usage-runs", KeyedTable)

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
            cores = f"{self.cores:g} cores each (c)"
        elif self.run_tasks:
            cores = "cores as requested"
        else:
            cores = "cores from the logs (c sets them)"
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

    # ---- charts ----------------------------------------------------------------------------------

    def charts(self) -> tuple[PlotextPlot, PlotextPlot]:
        """The CPU and memory charts, mounted the first time they are drawn (plotting is imported then)."""
        from textual_plotext import PlotextPlot

        box = self.query_one("#usage-charts", Horizontal)
        if not box.children:
            box.mount(PlotextPlot(id="usage-cpu"), PlotextPlot(id="usage-mem"))
        return box.query_one("#usage-cpu", PlotextPlot), box.query_one("#usage-mem", PlotextPlot)

    def draw(self) -> None:
        """Redraw the charts of the pane being looked at (a hidden pane is drawn when it is shown)."""
        if not self.is_visible_pane():
            return
        cpu, mem = self.charts()
        for chart in (cpu, mem):
            chart.plt.clear_data()
            chart.plt.clear_figure()
        if self.live_view:
            self._draw_live(cpu.plt, mem.plt)
        else:
            self._draw_profiles(cpu.plt, mem.plt)
        cpu.refresh()
        mem.refresh()

    def _draw_profiles(self, cpu: Any, mem: Any) -> None:
        cpu.title("CPU % of one core (profiles)")
        mem.title("Memory MiB (profiles)")
        cpu.xlabel("elapsed s")
        mem.xlabel("elapsed s")
        if self.series is None:
            return
        for name in self.charted_runs():
            part = self.series[self.series["run"] == name]
            t = part["t"].tolist()
            cpu.plot(t, part["cpu"].tolist(), label=name)
            mem.plot(t, part["mem"].tolist(), label=name)
        cpu.ylim(0, None)

    def _draw_live(self, cpu: Any, mem: Any) -> None:
        shown = sorted(self.live, key=lambda sid: self.live[sid][-1][0], reverse=True)[:MAX_CHARTED]
        now = self.live_at or 0.0
        running = sum(1 for sid in shown if self.live[sid][-1][0] >= now)
        cpu.title(f"Cores in use (live: {running} running, {len(shown) - running} ended)")
        mem.title("RAM in use GB (live)")
        cpu.xlabel("seconds ago")
        mem.xlabel("seconds ago")
        for sid in shown:
            samples = list(self.live[sid])
            ago = [t - now for t, _, _ in samples]
            label = self.live_names.get(sid, sid)
            cpu.plot(ago, [c for _, c, _ in samples], label=label)
            mem.plot(ago, [r for _, _, r in samples], label=label)
