"""Read profile logs (psrecord plain and CSV, the recorder's CSV + summary) and account for them.

This replaces the seed's aggregate_logs.py, whose CPU-hours were off by 100 × the core count and
which stopped at the first unreadable file. Used CPU-hours are the integral of ``cpu`` (percent of
one core summed over the process tree) over time: each sample is the average since the previous
one, so the integral is a step sum over ``elapsed_time``. Allocated core-hours need the cores the
run was given (recorder summary, run ledger or ``--cores``).

Logs are read in batches: files with the same layout are joined and parsed by one pandas C-parser
call per thread, then cut back into one block per run, so thousands of logs cost little more than
their bytes. A file that cannot be read becomes a problem naming the file and line; the rest still
aggregate.
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from core.recorder import SUMMARY_SUFFIX, summary_path

CSV_COLUMNS = ("elapsed_time", "nproc", "cpu", "mem_real", "mem_virtual")
PLAIN_COLUMNS = ("elapsed_time", "cpu", "mem_real", "mem_virtual")
IO_COLUMNS = ("read_count", "write_count", "read_bytes", "write_bytes")
LOG_SUFFIXES = (".csv", ".txt", ".log")
_CSV_HEADER = b"elapsed_time,"


@dataclass
class RunProfile:
    """One profiled run: its samples (float64, one row per sample) and its summary, if any."""

    name: str
    source: Path
    kind: str  # "psrecord-plain", "psrecord-csv" or "recorder"
    columns: tuple[str, ...]
    data: np.ndarray
    summary: dict | None = None

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.data, columns=list(self.columns))

    def column(self, name: str) -> np.ndarray | None:
        return self.data[:, self.columns.index(name)] if name in self.columns else None


@dataclass
class LoadResult:
    runs: list[RunProfile]
    problems: list[str]
    skipped: list[Path] = field(default_factory=list)  # files in scanned folders that are not logs


@dataclass
class _Pending:
    """A log file read into memory, its layout known, waiting to be parsed in a batch."""

    path: Path
    kind: str
    columns: tuple[str, ...]
    body: bytes
    rows: int
    first_line: int = 2


# --- finding and reading files ------------------------------------------------------------

def load(paths: Iterable, *, workers: int | None = None) -> LoadResult:
    """Read every profile log named in ``paths`` (files or folders, searched recursively)."""
    problems: list[str] = []
    skipped: list[Path] = []
    pending: list[_Pending] = []
    for path, explicit in _candidates(paths, problems):
        item = _read(path, explicit, problems, skipped)
        if item is not None:
            pending.append(item)
    runs = _parse_batches(pending, problems, workers or min(4, os.cpu_count() or 1))
    _attach_summaries(runs, problems)
    _name_runs(runs)
    return LoadResult(runs, problems, skipped)


def _candidates(paths: Iterable, problems: list[str]):
    seen = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [(p, False) for p in sorted(path.rglob("*"))
                     if p.suffix.lower() in LOG_SUFFIXES and p.is_file()]
        elif path.name.endswith(SUMMARY_SUFFIX):
            found = [(path.with_name(path.name[: -len(SUMMARY_SUFFIX)]), True)]
        elif path.exists():
            found = [(path, True)]
        else:
            problems.append(f"{path}: no such file or directory")
            found = []
        for candidate, explicit in found:
            if candidate.resolve() not in seen:
                seen.add(candidate.resolve())
                yield candidate, explicit


def _read(path: Path, explicit: bool, problems: list[str], skipped: list[Path]) -> _Pending | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{path}: cannot read ({exc.strerror or exc})")
        return None
    if not data.strip():
        problems.append(f"{path}: empty file")
        return None
    header, _, body = data.partition(b"\n")
    layout = _layout(header)
    if layout is None:
        if explicit:
            problems.append(f"{path} line 1: not a psrecord or recorder log "
                            f"(header {header[:60].decode(errors='replace')!r})")
        else:
            skipped.append(path)
        return None
    kind, columns = layout
    body = _drop_truncated_tail(body, len(columns), kind)
    rows = body.count(b"\n")
    if rows == 0:
        problems.append(f"{path}: no samples after the header")
        return None
    return _Pending(path, kind, columns, body, rows)


def _layout(header: bytes) -> tuple[str, tuple[str, ...]] | None:
    text = header.strip()
    if text.startswith(_CSV_HEADER):
        columns = tuple(c.strip() for c in text.decode(errors="replace").split(","))
        if columns in (CSV_COLUMNS, CSV_COLUMNS + IO_COLUMNS):
            return "psrecord-csv", columns
        return None
    if text.startswith(b"#") and b"Elapsed time" in text:
        return "psrecord-plain", PLAIN_COLUMNS + (IO_COLUMNS if b"Read count" in text else ())
    return None


def _drop_truncated_tail(body: bytes, ncolumns: int, kind: str) -> bytes:
    """A log cut off mid-row (killed writer) loses only that row."""
    if not body or body.endswith(b"\n"):
        return body
    cut = body.rfind(b"\n") + 1
    tail = body[cut:]
    fields = len(tail.split(b",")) if kind == "psrecord-csv" else len(tail.split())
    return body + b"\n" if fields == ncolumns else body[:cut]


# --- batch parsing ------------------------------------------------------------------------

def _parse_batches(pending: list[_Pending], problems: list[str], workers: int) -> list[RunProfile]:
    groups: dict[tuple, list[_Pending]] = {}
    for item in pending:
        groups.setdefault((item.kind, item.columns), []).append(item)
    chunks = [chunk for group in groups.values() for chunk in _split(group, workers)]
    runs_by_path: dict[Path, RunProfile] = {}
    with ThreadPoolExecutor(max(1, min(workers, len(chunks)))) as pool:
        for chunk, runs in zip(chunks, pool.map(_parse_chunk, chunks)):
            if runs is None:
                runs = _parse_one_by_one(chunk, problems)
            runs_by_path.update((run.source, run) for run in runs)
    return [runs_by_path[item.path] for item in pending if item.path in runs_by_path]


def _split(group: list[_Pending], parts: int) -> list[list[_Pending]]:
    """Cut a group into about ``parts`` chunks of similar size, at file boundaries."""
    target = sum(len(item.body) for item in group) / parts
    chunks, current, size = [], [], 0
    for item in group:
        current.append(item)
        size += len(item.body)
        if size >= target:
            chunks.append(current)
            current, size = [], 0
    return chunks + ([current] if current else [])


def _parse_chunk(chunk: list[_Pending]) -> list[RunProfile] | None:
    """Parse many files of one layout in one call; None when any of them is malformed."""
    try:
        block = _parse_body(b"".join(item.body for item in chunk), chunk[0])
    except (ValueError, pd.errors.ParserError):
        return None
    if len(block) != sum(item.rows for item in chunk) or np.isnan(block).any():
        return None
    runs, start = [], 0
    for item in chunk:
        runs.append(RunProfile(item.path.stem, item.path, item.kind, item.columns,
                               block[start:start + item.rows]))
        start += item.rows
    return runs


def _parse_one_by_one(chunk: list[_Pending], problems: list[str]) -> list[RunProfile]:
    runs = []
    for item in chunk:
        parsed = _parse_chunk([item])
        if parsed is None:
            problems.append(_describe_bad_line(item))
        else:
            runs.extend(parsed)
    return runs


def _parse_body(body: bytes, layout: _Pending) -> np.ndarray:
    separator = "," if layout.kind == "psrecord-csv" else r"\s+"
    frame = pd.read_csv(io.BytesIO(body), sep=separator, header=None, names=list(layout.columns),
                        dtype=np.float64, engine="c", skip_blank_lines=False)
    return frame.to_numpy()


def _describe_bad_line(item: _Pending) -> str:
    """Name the first line of a file that is not a row of numbers of the expected width."""
    for offset, line in enumerate(item.body.split(b"\n")[: item.rows]):
        fields = line.split(b",") if item.kind == "psrecord-csv" else line.split()
        if len(fields) != len(item.columns) or not all(_is_number(f) for f in fields):
            text = line[:60].decode(errors="replace")
            return f"{item.path} line {item.first_line + offset}: not a sample row ({text!r})"
    return f"{item.path}: unreadable samples"


def _is_number(text: bytes) -> bool:
    try:
        return not np.isnan(float(text))
    except ValueError:
        return False


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


def _name_runs(runs: list[RunProfile]) -> None:
    """Runs are named after their files; a name used twice gets its folder in front."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    for run in runs:
        if counts[run.name] > 1:
            run.name = f"{run.source.parent.name}/{run.source.stem}"


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
    if isinstance(cores, Mapping):
        value = cores.get(run.name, cores.get(str(run.source)))
    else:
        value = cores
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
        "samples": int(len(t)),
        "wall_s": round(float(wall), 3),
        "cpu_mean_pct": round(cpu_s / span * 100, 1) if span > 0 else 0.0,
        "cpu_peak_pct": round(float(cpu[1:].max() if len(cpu) > 1 else cpu[0]), 1),
        "rss_peak_mib": round(float(mem.max()), 3),
        "cpu_hours": round(cpu_s / 3600, 9),
    }
    rusage = summary.get("rusage_tree") or summary.get("rusage")
    if rusage:
        row["rusage_cpu_hours"] = round((rusage["user_s"] + rusage["system_s"]) / 3600, 9)
    if cores:
        alloc = cores * float(wall) / 3600
        row.update(cores=cores, alloc_core_hours=round(alloc, 9),
                   efficiency=round(cpu_s / 3600 / alloc, 4) if alloc > 0 else None)
    for name in IO_COLUMNS:
        values = run.column(name)
        if values is not None:
            row[name] = int(values[-1] - values[0])
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

    Columns ``run``, ``t`` (end of each step, seconds since the run started), ``cpu`` (average %
    of one core over the step, so areas still add up to CPU time) and ``mem`` (peak MiB in the
    step). Without ``step_s`` the step gives about ``points`` points for the longest run.
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
    used = np.concatenate(([0.0], np.cumsum(cpu[1:] * np.diff(t))))
    cpu_avg = np.diff(np.interp(edges, t, used)) / step
    peak = np.interp(edges[1:], t, mem)
    starts = np.searchsorted(t, edges, side="left")
    filled = (starts[1:] > starts[:-1])
    if filled.any():
        peak[filled] = np.maximum.reduceat(mem, starts[:-1][filled])
    return pd.DataFrame({"run": run.name, "t": edges[1:], "cpu": cpu_avg, "mem": peak})


def render_table(report: dict) -> Table:
    """The aggregate report as a rich table, one row per run and a totals row."""
    runs, total = report["runs"], report["total"]
    with_alloc = any("alloc_core_hours" in r for r in runs)
    with_rusage = any("rusage_cpu_hours" in r for r in runs)
    table = Table(title="Usage", show_footer=True, footer_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False, caption=f"makespan {_duration(total['makespan_s'])}")
    columns = [("Run", "left", f"{total['runs']} runs"), ("Wall", "right", _duration(total["wall_s"])), ("CPU%", "right", ""),
               ("Peak%", "right", ""), ("RSS MiB", "right", f"{total['rss_peak_mib']:.0f}"),
               ("CPU-h", "right", _number(total["cpu_hours"]))]
    if with_rusage:
        columns.append(("rusage-h", "right", _number(total["rusage_cpu_hours"])))
    if with_alloc:
        columns += [("Alloc-h", "right", _number(total["alloc_core_hours"])),
                    ("Eff", "right", _percent(total.get("efficiency")))]
    columns.append(("Exit", "right", ""))
    for title, justify, footer in columns:
        table.add_column(title, justify=justify, footer=footer, overflow="fold",
                         min_width=12 if title == "Run" else None)
    for r in runs:
        cells = [r["run"], _duration(r["wall_s"]), f"{r['cpu_mean_pct']:.0f}",
                 f"{r['cpu_peak_pct']:.0f}", f"{r['rss_peak_mib']:.0f}", _number(r["cpu_hours"])]
        if with_rusage:
            cells.append(_number(r.get("rusage_cpu_hours")))
        if with_alloc:
            cells += [_number(r.get("alloc_core_hours")), _percent(r.get("efficiency"))]
        cells.append(_exit_text(r))
        table.add_row(*cells)
    return table


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _number(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 100 else f"{value:.0f}"


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _exit_text(row: dict) -> str:
    if row.get("signal"):
        return f"sig {row['signal']}"
    return "—" if row.get("exit_code") is None else str(row["exit_code"])
