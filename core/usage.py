"""Read profile logs (psrecord plain and CSV, the recorder's CSV + summary) and account for them.

This replaces the seed's aggregate_logs.py, whose CPU-hours were off by 100 × the core count and
which stopped at the first unreadable file. Used CPU-hours are the integral of ``cpu`` (percent of
one core summed over the process tree) over time: each sample is the average since the previous
one, so the integral is a step sum over ``elapsed_time``. Allocated core-hours need the cores the
run was given (recorder summary, run ledger or ``--cores``).

Each log is parsed by one ``pyarrow.csv`` call on a worker thread, converting only the columns
asked for. A file that cannot be read becomes a problem naming the file and line; the rest still
aggregate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from rich import box
from rich.console import JustifyMethod
from rich.table import Table

from srcnet_tui.core.task.recorder import SUMMARY_SUFFIX, summary_path

PSRECORD_CSV_COLUMNS = ("elapsed_time", "nproc", "cpu", "mem_real", "mem_virtual")
PLAIN_COLUMNS = ("elapsed_time", "cpu", "mem_real", "mem_virtual")
IO_COLUMNS = ("read_count", "write_count", "read_bytes", "write_bytes")
AGGREGATE_COLUMNS = ("elapsed_time", "cpu", "mem_real")
LOG_SUFFIXES = (".csv", ".txt", ".log")
UTF8_BOM = b"\xef\xbb\xbf"  # spreadsheet programs start saved CSV with it
_BLOCK_BYTES = 4 << 20  # one parser block holds a typical log whole (smaller blocks parse slower)
_PARSE_OPTIONS = pa_csv.ParseOptions(ignore_empty_lines=False)  # a blank line is a bad sample row


@dataclass
class RunProfile:
    """One profiled run: its samples (float64, one row per sample) and its summary, if any."""

    name: str
    source: Path
    kind: str  # "psrecord-plain", "psrecord-csv" or "recorder"
    columns: tuple[str, ...]
    data: np.ndarray
    summary: dict | None = None
    io_totals: dict[str, int] | None = None  # last minus first of the cumulative I/O counters

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.data, columns=list(self.columns))

    def column(self, name: str) -> np.ndarray:
        return self.data[:, self.columns.index(name)]


@dataclass
class LoadResult:
    runs: list[RunProfile]
    problems: list[str]
    skipped: list[Path] = field(default_factory=list)  # files in scanned folders that are not logs


class _Unusable(Exception):
    """A log that cannot be aggregated; the message is the problem to report."""


class _NotALog(Exception):
    """A file met while scanning a folder that is not a profile log: skipped without a problem."""


# --- finding and reading files ------------------------------------------------------------


def load(
    paths: Iterable, *, columns: Iterable[str] | None = None, workers: int | None = None, names: Mapping[str, str] | None = None
) -> LoadResult:
    """Read every profile log named in ``paths`` (files or folders, searched recursively).

    ``columns`` limits the parsed columns (``elapsed_time``, ``cpu`` and ``mem_real`` are always
    kept); ``AGGREGATE_COLUMNS`` is all that :func:`aggregate` and :func:`timeseries` need and
    parses faster. Unparsed columns are not checked. I/O totals come from the first and last rows
    either way. Runs are named after their files, or ``names[str(path)]`` when given (a run's
    tasks are named after the task, not the log).
    """
    wanted = None if columns is None else set(columns) | set(AGGREGATE_COLUMNS)
    result = LoadResult([], [], [])
    candidates = list(_candidates(paths, result.problems))
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        outcomes = list(pool.map(partial(_run_or_problem, wanted=wanted), candidates))
    for (path, _explicit), outcome in zip(candidates, outcomes):
        if isinstance(outcome, RunProfile):
            result.runs.append(outcome)
        elif outcome is None:
            result.skipped.append(path)
        else:
            result.problems.append(outcome)
    _attach_summaries(result.runs, result.problems)
    _name_runs(result.runs, names or {})
    return result


def _candidates(paths: Iterable, problems: list[str]) -> Iterator[tuple[Path, bool]]:
    """Each log file once, with whether it was named explicitly (rather than found in a folder)."""
    seen = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [(p, False) for p in sorted(path.rglob("*")) if p.suffix.lower() in LOG_SUFFIXES and p.is_file()]
        elif path.name.endswith(SUMMARY_SUFFIX):
            found = [(path.with_name(path.name[: -len(SUMMARY_SUFFIX)]), True)]
        elif path.exists():
            found = [(path, True)]
        else:
            problems.append(f"{path}: no such file or directory")
            found = []
        for candidate, explicit in found:
            key = os.path.abspath(candidate)
            if key not in seen:
                seen.add(key)
                yield candidate, explicit


def _run_or_problem(candidate: tuple[Path, bool], wanted: set[str] | None) -> RunProfile | str | None:
    """The run in one log, the problem that keeps it out, or None for a file that is not a log."""
    path, explicit = candidate
    try:
        return _read_run(path, explicit, wanted)
    except _Unusable as problem:
        return str(problem)
    except _NotALog:
        return None


def _read_run(path: Path, explicit: bool, wanted: set[str] | None) -> RunProfile:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise _Unusable(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise _Unusable(f"{path}: empty file")
    body = _line_end(text, 0)
    kind, columns = _layout(text[:body], path, explicit)
    text = _without_cut_last_row(text, len(columns), kind)
    if not text[body:].strip():
        raise _Unusable(f"{path}: no samples after the header{_recorded_error(path)}")
    parsed = tuple(c for c in columns if wanted is None or c in wanted)
    data = _parse_rows(text, kind, columns, parsed, path)
    _check_time_runs_forward(data[:, parsed.index("elapsed_time")], path)
    return RunProfile(path.stem, path, kind, parsed, data, io_totals=_io_totals(text, body, columns, kind))


def _line_end(text: bytes, start: int) -> int:
    """Where the line starting at ``start`` ends, past its newline if it has one."""
    newline = text.find(b"\n", start)
    return newline + 1 if newline >= 0 else len(text)


def _layout(header: bytes, path: Path, explicit: bool) -> tuple[str, tuple[str, ...]]:
    """The log's kind and columns, from its header line."""
    text = header.removeprefix(UTF8_BOM).strip()
    if text.startswith(b"elapsed_time,"):
        columns = tuple(c.strip() for c in text.decode(errors="replace").split(","))
        if columns in (PSRECORD_CSV_COLUMNS, PSRECORD_CSV_COLUMNS + IO_COLUMNS):
            return "psrecord-csv", columns
    elif text.startswith(b"#") and b"Elapsed time" in text:
        return "psrecord-plain", PLAIN_COLUMNS + (IO_COLUMNS if b"Read count" in text else ())
    if not explicit:
        raise _NotALog
    raise _Unusable(f"{path} line 1: not a psrecord or recorder log (header {text[:60].decode(errors='replace')!r})")


def _without_cut_last_row(text: bytes, ncolumns: int, kind: str) -> bytes:
    """An unterminated last row is kept when it has every field, and dropped as cut off by a
    killed writer when it does not."""
    if text.endswith(b"\n"):
        return text
    cut = text.rfind(b"\n") + 1
    return text if len(_fields(text[cut:], kind)) == ncolumns else text[:cut]


def _recorded_error(path: Path) -> str:
    """The recorder's reason for an empty log (e.g. the command was not found), if it wrote one."""
    try:
        error = json.loads(summary_path(path).read_text()).get("error")
    except (OSError, ValueError, AttributeError):
        return ""
    return f" ({error})" if error else ""


def _fields(line: bytes, kind: str) -> list[bytes]:
    return line.split(b",") if kind == "psrecord-csv" else line.split()


def _parse_rows(text: bytes, kind: str, columns: tuple[str, ...], parsed: tuple[str, ...], path: Path) -> np.ndarray:
    """The ``parsed`` columns of every sample row as float64; a row that is not numbers of the
    right width is a problem naming its line."""
    csv = text if kind == "psrecord-csv" else b"\n".join(b",".join(line.split()) for line in text.split(b"\n"))
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(csv),
            read_options=pa_csv.ReadOptions(column_names=list(columns), skip_rows=1, use_threads=False, block_size=_BLOCK_BYTES),
            parse_options=_PARSE_OPTIONS,
            convert_options=pa_csv.ConvertOptions(
                include_columns=list(parsed), column_types=dict.fromkeys(columns, pa.float64()), null_values=[]
            ),
        )
    except pa.ArrowInvalid:
        raise _Unusable(_describe_bad_line(text, kind, len(columns), path)) from None
    data = np.column_stack([table.column(name).to_numpy() for name in parsed])
    if np.isnan(data).any():
        raise _Unusable(_describe_bad_line(text, kind, len(columns), path))
    return data


def _describe_bad_line(text: bytes, kind: str, ncolumns: int, path: Path) -> str:
    """Name the first line of a log that is not a row of numbers of the expected width."""
    for number, line in enumerate(text.splitlines()[1:], start=2):
        fields = _fields(line, kind)
        if len(fields) != ncolumns or not all(_is_number(f) for f in fields):
            return f"{path} line {number}: not a sample row ({line[:60].decode(errors='replace')!r})"
    return f"{path}: unreadable samples"


def _is_number(text: bytes) -> bool:
    try:
        return not np.isnan(float(text))
    except ValueError:
        return False


def _check_time_runs_forward(elapsed: np.ndarray, path: Path) -> None:
    """Elapsed time going backwards would give negative durations, so such a log is left out
    rather than guessed at."""
    backwards = np.flatnonzero(np.diff(elapsed) < 0)
    if len(backwards):
        line = int(backwards[0]) + 3  # header is line 1, the first sample line 2; the later sample is the culprit
        raise _Unusable(f"{path} line {line}: elapsed time goes backwards; log left out")


def _io_totals(text: bytes, body: int, columns: tuple[str, ...], kind: str) -> dict[str, int] | None:
    """Cumulative I/O counters: last row minus first row, read from the text (they need not be parsed)."""
    if IO_COLUMNS[0] not in columns:
        return None
    first = _fields(text[body : _line_end(text, body)], kind)
    last = _fields(text[text.rfind(b"\n", 0, len(text) - 1) + 1 :], kind)
    try:
        return {name: int(float(last[columns.index(name)]) - float(first[columns.index(name)])) for name in IO_COLUMNS}
    except (ValueError, IndexError):  # an unparsed counter that is not a number
        return None


def _attach_summaries(runs: list[RunProfile], problems: list[str]) -> None:
    for run in runs:
        path = summary_path(run.source)
        if not path.exists():
            continue
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: unreadable summary ({exc}); using the log alone")
            continue
        if isinstance(summary, dict):
            run.summary = summary
            run.kind = "recorder"


def _name_runs(runs: list[RunProfile], names: Mapping[str, str]) -> None:
    """Runs are named as ``names`` says, else after their files; a name used twice gets its folder in front."""
    for run in runs:
        run.name = names.get(str(run.source), run.name)
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    for run in runs:
        if counts[run.name] > 1:
            run.name = f"{run.source.parent.name}/{run.name}"


# --- aggregation --------------------------------------------------------------------------


def aggregate(runs: list[RunProfile], cores: float | Mapping[str, float] | None = None) -> dict:
    """``{"runs": [...], "total": {...}}`` as ``aggregate --json`` prints it (DESIGN.md).

    ``cores`` is the cores each run was given: one number for all, or a mapping from run name
    (or source path) to cores, e.g. from the run ledger. Without it a recorder summary's cores
    are used; runs with no known cores get no ``alloc_core_hours`` or ``efficiency``.
    """
    rows = [_run_metrics(run, _cores_for(run, cores)) for run in runs]
    return {"runs": rows, "total": _totals(rows, runs)}


def _cores_for(run: RunProfile, cores) -> float | None:
    value = cores.get(run.name, cores.get(str(run.source))) if isinstance(cores, Mapping) else cores
    if value is None and run.summary:
        value = (run.summary.get("cores") or {}).get("given")
    return float(value) if value else None


def _run_metrics(run: RunProfile, cores: float | None) -> dict:
    t, cpu, mem = run.column("elapsed_time"), run.column("cpu"), run.column("mem_real")
    span = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    cpu_s = float(np.dot(cpu[1:], np.diff(t))) / 100 if len(t) > 1 else 0.0
    summary = run.summary or {}
    wall = summary.get("wall_s")
    if wall is None:
        wall = span + (span / (len(t) - 1) if len(t) > 1 else float(summary.get("interval_s") or 0))
    row = {
        "run": run.name,
        "samples": len(t),
        "wall_s": round(float(wall), 3),
        "cpu_mean_pct": round(cpu_s / span * 100, 1) if span > 0 else 0.0,
        "cpu_peak_pct": round(float(cpu[1:].max() if len(cpu) > 1 else cpu[0]), 1),
        "rss_peak_mib": round(float(mem.max()), 3),
        "cpu_hours": round(cpu_s / 3600, 9),
    }
    rusage = summary.get("rusage_tree") or summary.get("rusage")
    if rusage:
        row["rusage_cpu_hours"] = round((rusage["user_s"] + rusage["system_s"]) / 3600, 9)
        if rusage.get("max_rss_mib") is not None:
            row["rusage_max_rss_mib"] = rusage["max_rss_mib"]  # the kernel's peak of its largest process
    if cores:
        alloc = cores * float(wall) / 3600
        row.update(
            cores=cores, alloc_core_hours=round(alloc, 9), efficiency=round(cpu_s / 3600 / alloc, 4) if alloc > 0 else None
        )
    row.update(run.io_totals or {})
    for key in ("exit_code", "signal", "status", "start_utc", "end_utc", "host"):
        if key in summary:
            row[key] = summary[key]
    row.update(format=run.kind, source=str(run.source))
    return row


def _totals(rows: list[dict], runs: list[RunProfile]) -> dict:
    allocated = [r for r in rows if "alloc_core_hours" in r]
    total = {
        "runs": len(rows),
        "wall_s": round(sum(r["wall_s"] for r in rows), 3),
        "makespan_s": round(makespan_s(rows), 3),
        "cpu_hours": round(sum(r["cpu_hours"] for r in rows), 9),
        "alloc_core_hours": round(sum(r["alloc_core_hours"] for r in allocated), 9) if allocated else None,
        "rss_peak_mib": max((r["rss_peak_mib"] for r in rows), default=0.0),
    }
    if allocated:
        used = sum(r["cpu_hours"] for r in allocated)
        total["efficiency"] = round(used / total["alloc_core_hours"], 4) if total["alloc_core_hours"] else None
    for name in IO_COLUMNS:
        if any(name in r for r in rows):
            total[name] = sum(r.get(name, 0) for r in rows)
    if any("rusage_cpu_hours" in r for r in rows):
        total["rusage_cpu_hours"] = round(sum(r.get("rusage_cpu_hours", 0.0) for r in rows), 9)
    return total


def makespan_s(rows: list[dict]) -> float:
    """Time covered by the runs: overlapping runs with known start times count once; runs without
    a start time (plain psrecord logs) are assumed not to overlap anything."""
    intervals, unplaced = [], 0.0
    for row in rows:
        start = row.get("start_utc")
        if start:
            begin = pd.Timestamp(start).timestamp()
            intervals.append((begin, begin + row["wall_s"]))
        else:
            unplaced += row["wall_s"]
    covered, reach = 0.0, float("-inf")
    for begin, end in sorted(intervals):
        if end > reach:
            covered += end - max(begin, reach)
            reach = end
    return covered + unplaced


# --- charts and tables --------------------------------------------------------------------


def timeseries(runs: list[RunProfile], step_s: float | None = None, points: int = 300) -> pd.DataFrame:
    """CPU and memory of every run on a common grid of elapsed time, for charts.

    Columns ``run``, ``t`` (end of each step, seconds since the run started), ``cpu`` (the highest
    % of one core any sample measured during the step) and ``mem`` (peak MiB in the step): however
    coarse the grid, the chart tops at the peaks :func:`aggregate` reports. Without ``step_s`` the
    step gives about ``points`` points for the longest run.
    """
    longest = max((float(r.column("elapsed_time")[-1]) for r in runs), default=0.0)
    step = step_s or max(longest / points, 1e-3)
    frames = [_resample(run, step) for run in runs]
    if not frames:
        return pd.DataFrame({"run": pd.Series(dtype=object), "t": [], "cpu": [], "mem": []})
    return pd.concat(frames, ignore_index=True)


def _resample(run: RunProfile, step: float) -> pd.DataFrame:
    t, cpu, mem = run.column("elapsed_time"), run.column("cpu"), run.column("mem_real")
    edges = np.arange(0.0, t[-1] + step, step)
    if len(edges) < 2:
        edges = np.array([0.0, step])
    peak = np.interp(edges[1:], t, mem)
    starts = np.searchsorted(t, edges, side="left")
    filled = starts[1:] > starts[:-1]
    if filled.any():
        peak[filled] = np.maximum.reduceat(mem, starts[:-1][filled])
    return pd.DataFrame({"run": run.name, "t": edges[1:], "cpu": _cpu_peaks(t, cpu, edges), "mem": peak})


def _cpu_peaks(t: np.ndarray, cpu: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The highest ``cpu`` of the samples whose spans overlap each step.

    Sample ``i`` (from the second on) is the average over ``(t[i-1], t[i]]``; a single-sample log
    has its one value at every step. Steps past the log's end (or before its first span) get 0."""
    if len(t) < 2:
        return np.full(len(edges) - 1, float(cpu[0]) if len(cpu) else 0.0)
    first = np.maximum(np.searchsorted(t, edges[:-1], side="right"), 1)  # first span ending after the step starts
    last = np.minimum(np.searchsorted(t, edges[1:], side="left"), len(t) - 1)  # last span starting before it ends
    overlapping = first <= last
    bounds = np.column_stack([first, last + 1]).ravel()  # [a0, b0+1, a1, b1+1, ...]: every even slot is one step's range
    padded = np.append(cpu, 0.0)  # reduceat needs b+1 to be a valid index
    peaks = np.maximum.reduceat(padded, np.where(overlapping.repeat(2), bounds, 0))[::2]
    return np.where(overlapping, peaks, 0.0)


def render_table(report: dict) -> Table:
    """The aggregate report as a rich table, one row per run and a totals row; a run's attempt that a
    later one replaced (``wasted``) is named so, and counts in the totals like the others."""
    runs, total = report["runs"], report["total"]
    with_alloc = any("alloc_core_hours" in r for r in runs)
    with_rusage = any("rusage_cpu_hours" in r for r in runs)
    with_memory = any(r.get("mem_efficiency") is not None for r in runs)  # the ledger knew the RAM requested
    table = Table(
        title="Usage",
        show_footer=True,
        footer_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=f"makespan {format_duration(total['makespan_s'])}",
    )
    columns: list[tuple[str, JustifyMethod, str]] = [
        ("Run", "left", f"{total['runs']} runs"),
        ("Wall", "right", format_duration(total["wall_s"])),
        ("CPU%", "right", ""),
        ("Peak%", "right", ""),
        ("RSS MiB", "right", f"{total['rss_peak_mib']:.0f}"),
        ("CPU-h", "right", format_number(total["cpu_hours"])),
    ]
    if with_rusage:
        columns.append(("rusage-h", "right", format_number(total["rusage_cpu_hours"])))
    if with_alloc:
        columns += [
            ("Alloc-h", "right", format_number(total["alloc_core_hours"])),
            ("Eff", "right", format_percent(total.get("efficiency"))),
        ]
    if with_memory:
        columns.append(("Mem", "right", ""))
    columns.append(("Exit", "right", ""))
    for title, justify, footer in columns:
        table.add_column(title, justify=justify, footer=footer, overflow="fold")
    for r in runs:
        cells = [
            f"{r['run']} (wasted)" if r.get("wasted") else r["run"],
            format_duration(r["wall_s"]),
            f"{r['cpu_mean_pct']:.0f}",
            f"{r['cpu_peak_pct']:.0f}",
            f"{r['rss_peak_mib']:.0f}",
            format_number(r["cpu_hours"]),
        ]
        if with_rusage:
            cells.append(format_number(r.get("rusage_cpu_hours")))
        if with_alloc:
            cells += [format_number(r.get("alloc_core_hours")), format_percent(r.get("efficiency"))]
        if with_memory:
            cells.append(format_percent(r.get("mem_efficiency")))
        cells.append(_exit_text(r))
        table.add_row(*cells)
    return table


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_number(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 100 else f"{value:.0f}"


def format_percent(value) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _exit_text(row: dict) -> str:
    if row.get("signal"):
        return f"sig {row['signal']}"
    return "—" if row.get("exit_code") is None else str(row["exit_code"])
