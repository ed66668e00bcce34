"""Read profile logs (psrecord plain and CSV, the recorder's CSV + summary) and account for them.

This replaces the seed's aggregate_logs.py, whose CPU-hours were off by 100 × the core count and
which stopped at the first unreadable file. Used CPU-hours are the integral of ``cpu`` (percent of
one core summed over the process tree) over time: each sample is the average since the previous
one, so the integral is a step sum over ``elapsed_time``. Allocated core-hours need the cores the
run was given (recorder summary, run ledger or ``--cores``).

Logs are read in batches of a few MB, each parsed by one pandas C-parser call on a worker thread
and cut back into one block of rows per run, so thousands of logs cost little more than parsing
their numbers. A file that cannot be read becomes a problem naming the file and line; the rest
still aggregate.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from srcnet_tui.core.task.recorder import SUMMARY_SUFFIX, summary_path

PSRECORD_CSV_COLUMNS = ("elapsed_time", "nproc", "cpu", "mem_real", "mem_virtual")
PLAIN_COLUMNS = ("elapsed_time", "cpu", "mem_real", "mem_virtual")
IO_COLUMNS = ("read_count", "write_count", "read_bytes", "write_bytes")
AGGREGATE_COLUMNS = ("elapsed_time", "cpu", "mem_real")
BATCH_BYTES = 4 << 20
LOG_SUFFIXES = (".csv", ".txt", ".log")
_CSV_HEADER = b"elapsed_time,"
UTF8_BOM = b"\xef\xbb\xbf"  # spreadsheet programs start saved CSV with it


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

    def column(self, name: str) -> np.ndarray | None:
        return self.data[:, self.columns.index(name)] if name in self.columns else None


@dataclass
class LoadResult:
    runs: list[RunProfile]
    problems: list[str]
    skipped: list[Path] = field(default_factory=list)  # files in scanned folders that are not logs


@dataclass
class _Pending:
    """A log read into a batch buffer at ``start:end``; its header line overwritten by a marker row."""

    path: Path
    kind: str
    columns: tuple[str, ...]
    start: int
    end: int
    io_totals: dict[str, int] | None


# --- finding and reading files ------------------------------------------------------------
#
# Files are read in batches of about BATCH_BYTES into one reusable buffer per thread, small
# enough to stay in the CPU cache until parsed. Each file's header line is overwritten in place by
# a marker row of the same length (elapsed_time = -1, impossible in a log), so a whole batch is
# parsed by one pandas C-parser call and the markers show where each file's rows begin.


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
    problems: list[str] = []
    batches = _batches(list(_candidates(paths, problems)))
    result = LoadResult([], problems, [])
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        for runs, batch_problems, skipped in pool.map(partial(_load_batch, wanted=wanted), batches):
            result.runs += runs
            result.problems += batch_problems
            result.skipped += skipped
    result.runs = [run for run in result.runs if _time_runs_forward(run, result.problems)]
    _attach_summaries(result.runs, result.problems)
    _name_runs(result.runs, names or {})
    return result


def _time_runs_forward(run: RunProfile, problems: list[str]) -> bool:
    """False (and a problem naming the line) if elapsed time ever goes backwards: such a log would
    give negative durations, so it is left out rather than guessed at."""
    backwards = np.flatnonzero(np.diff(run.column("elapsed_time")) < 0)
    if len(backwards) == 0:
        return True
    line = int(backwards[0]) + 3  # header is line 1, the first sample line 2; the later sample is the culprit
    problems.append(f"{run.source} line {line}: elapsed time goes backwards; log left out")
    return False


def _candidates(paths: Iterable, problems: list[str]):
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


def _batches(candidates: list[tuple[Path, bool]]) -> list[list[tuple[Path, bool]]]:
    """Consecutive files grouped into batches of about BATCH_BYTES, each parsed by one thread."""
    batches, current, size = [], [], 0
    for candidate in candidates:
        current.append(candidate)
        try:
            size += candidate[0].stat().st_size
        except OSError:
            pass
        if size >= BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
    return batches + ([current] if current else [])


_thread_buffers = threading.local()


def _buffer(size: int) -> bytearray:
    buffer = getattr(_thread_buffers, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _thread_buffers.buffer = bytearray(max(size, 2 * BATCH_BYTES))
    return buffer


def _load_batch(batch: list[tuple[Path, bool]], wanted: set[str] | None):
    problems: list[str] = []
    skipped: list[Path] = []
    pending: list[_Pending] = []
    buffer, offset = None, 0
    for path, explicit in batch:
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if buffer is None or offset + size + 1 > len(buffer):
                    buffer = _grown(buffer, offset, offset + size + 1)
                read = handle.readinto(memoryview(buffer)[offset : offset + size])
        except OSError as exc:
            problems.append(f"{path}: cannot read ({exc.strerror or exc})")
            continue
        item = _prepare(buffer, offset, offset + read, path, explicit, problems, skipped)
        if item is not None:
            pending.append(item)
            offset = item.end
    runs = _parse_groups(buffer, pending, wanted, problems) if pending else []
    return runs, problems, skipped


def _grown(buffer: bytearray | None, used: int, needed: int) -> bytearray:
    bigger = _buffer(needed) if buffer is None else bytearray(max(needed, 2 * len(buffer)))
    if buffer is not None:
        bigger[:used] = buffer[:used]
        _thread_buffers.buffer = bigger
    return bigger


def _prepare(
    buffer: bytearray, start: int, stop: int, path: Path, explicit: bool, problems: list[str], skipped: list[Path]
) -> _Pending | None:
    """Check one file read into ``buffer[start:stop]`` and mark its header; None if unusable."""
    if stop == start or (stop - start < 4096 and bytes(buffer[start:stop]).isspace()):
        problems.append(f"{path}: empty file")
        return None
    newline = buffer.find(b"\n", start, stop)
    body = newline + 1 if newline >= 0 else stop
    header = bytes(buffer[start:body])
    layout = _layout(header)
    if layout is None:
        if explicit:
            text = header[:60].strip().decode(errors="replace")
            problems.append(f"{path} line 1: not a psrecord or recorder log (header {text!r})")
        else:
            skipped.append(path)
        return None
    kind, columns = layout
    end = _rows_end(buffer, body, stop, len(columns), kind)
    if end == body:
        problems.append(f"{path}: no samples after the header{_recorded_error(path)}")
        return None
    first = bytes(buffer[body : buffer.find(b"\n", body, end)])
    last = bytes(buffer[max(buffer.rfind(b"\n", body, end - 1) + 1, body) : end - 1])
    buffer[start:body] = _marker(kind, len(columns), body - start)
    return _Pending(path, kind, columns, start, end, _io_totals(first, last, columns, kind))


def _recorded_error(path: Path) -> str:
    """The recorder's reason for an empty log (e.g. the command was not found), if it wrote one."""
    try:
        error = json.loads(summary_path(path).read_text()).get("error")
    except (OSError, ValueError, AttributeError):
        return ""
    return f" ({error})" if error else ""


def _layout(header: bytes) -> tuple[str, tuple[str, ...]] | None:
    text = header.removeprefix(UTF8_BOM).strip()
    if text.startswith(_CSV_HEADER):
        columns = tuple(c.strip() for c in text.decode(errors="replace").split(","))
        if columns in (PSRECORD_CSV_COLUMNS, PSRECORD_CSV_COLUMNS + IO_COLUMNS):
            return "psrecord-csv", columns
        return None
    if text.startswith(b"#") and b"Elapsed time" in text:
        return "psrecord-plain", PLAIN_COLUMNS + (IO_COLUMNS if b"Read count" in text else ())
    return None


def _rows_end(buffer: bytearray, body: int, stop: int, ncolumns: int, kind: str) -> int:
    """End of the complete rows. An unterminated last row is kept (given its newline) when it has
    every field, and dropped as cut off by a killed writer when it does not."""
    if stop == body or buffer[stop - 1] == ord("\n"):
        return stop
    cut = max(buffer.rfind(b"\n", body, stop) + 1, body)
    if len(_fields(bytes(buffer[cut:stop]), kind)) != ncolumns:
        return cut
    buffer[stop] = ord("\n")
    return stop + 1


def _marker(kind: str, ncolumns: int, width: int) -> bytes:
    separator = b"," if kind == "psrecord-csv" else b" "
    row = separator.join([b"-1"] + [b"0"] * (ncolumns - 1))
    return b" " * (width - 1 - len(row)) + row + b"\n"


def _fields(line: bytes, kind: str) -> list[bytes]:
    return line.split(b",") if kind == "psrecord-csv" else line.split()


def _io_totals(first: bytes, last: bytes, columns: tuple[str, ...], kind: str) -> dict[str, int] | None:
    """Cumulative I/O counters: last row minus first row."""
    if IO_COLUMNS[0] not in columns:
        return None
    first_fields, last_fields = _fields(first, kind), _fields(last, kind)
    try:
        return {
            name: int(float(last_fields[columns.index(name)]) - float(first_fields[columns.index(name)])) for name in IO_COLUMNS
        }
    except (ValueError, IndexError):
        return None


# --- batch parsing ------------------------------------------------------------------------


def _parse_groups(buffer: bytearray, pending: list[_Pending], wanted: set[str] | None, problems: list[str]) -> list[RunProfile]:
    groups: dict[tuple, list[_Pending]] = {}
    for item in pending:
        groups.setdefault((item.kind, item.columns), []).append(item)
    parsed: dict[Path, RunProfile] = {}
    for group in groups.values():
        if len(groups) == 1:
            text = memoryview(buffer)[pending[0].start : pending[-1].end]
        else:
            text = b"".join(memoryview(buffer)[item.start : item.end] for item in group)
        runs = _parse_text(text, group, wanted)
        if runs is None:
            runs = _parse_one_by_one(buffer, group, wanted, problems)
        parsed.update((run.source, run) for run in runs)
    return [parsed[item.path] for item in pending if item.path in parsed]


def _parse_text(text, group: list[_Pending], wanted: set[str] | None) -> list[RunProfile] | None:
    """The rows of every file in ``group`` from one parser call; None if any file is malformed."""
    layout = group[0]
    columns = tuple(c for c in layout.columns if wanted is None or c in wanted)
    try:
        block = _parse_rows(text, layout, columns)
    except (ValueError, pd.errors.ParserError):
        return None
    markers = np.flatnonzero(block[:, 0] == -1.0)
    if len(markers) != len(group) or (len(markers) and markers[0] != 0) or np.isnan(block).any():
        return None
    bounds = list(markers) + [len(block)]
    return [
        RunProfile(item.path.stem, item.path, item.kind, columns, block[bounds[i] + 1 : bounds[i + 1]], io_totals=item.io_totals)
        for i, item in enumerate(group)
    ]


def _parse_one_by_one(buffer: bytearray, group: list[_Pending], wanted: set[str] | None, problems: list[str]) -> list[RunProfile]:
    runs = []
    for item in group:
        text = bytes(buffer[item.start : item.end])
        parsed = _parse_text(text, [item], wanted)
        if parsed is None:
            problems.append(_describe_bad_line(item, text))
        else:
            runs.extend(parsed)
    return runs


def _parse_rows(text, layout: _Pending, columns: tuple[str, ...]) -> np.ndarray:
    """Rows as float64. Skipping unwanted CSV columns also skips their checks: a row's width is
    then only checked as far as the wanted columns go."""
    subset = layout.kind == "psrecord-csv" and columns != layout.columns
    frame = pd.read_csv(
        io.BytesIO(text),
        sep="," if layout.kind == "psrecord-csv" else r"\s+",
        header=None,
        names=list(layout.columns),
        usecols=list(columns) if subset else None,
        dtype=np.float64,
        engine="c",
        skip_blank_lines=False,
    )
    return frame[list(columns)].to_numpy()


def _describe_bad_line(item: _Pending, text: bytes) -> str:
    """Name the first line of a file that is not a row of numbers of the expected width."""
    for number, line in enumerate(text.split(b"\n")[1:-1], start=2):
        fields = _fields(line, item.kind)
        if len(fields) != len(item.columns) or not all(_is_number(f) for f in fields):
            return f"{item.path} line {number}: not a sample row ({line[:60].decode(errors='replace')!r})"
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
    filled = starts[1:] > starts[:-1]
    if filled.any():
        peak[filled] = np.maximum.reduceat(mem, starts[:-1][filled])
    return pd.DataFrame({"run": run.name, "t": edges[1:], "cpu": cpu_avg, "mem": peak})


def render_table(report: dict) -> Table:
    """The aggregate report as a rich table, one row per run and a totals row."""
    runs, total = report["runs"], report["total"]
    with_alloc = any("alloc_core_hours" in r for r in runs)
    with_rusage = any("rusage_cpu_hours" in r for r in runs)
    table = Table(
        title="Usage",
        show_footer=True,
        footer_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=f"makespan {_duration(total['makespan_s'])}",
    )
    columns = [
        ("Run", "left", f"{total['runs']} runs"),
        ("Wall", "right", _duration(total["wall_s"])),
        ("CPU%", "right", ""),
        ("Peak%", "right", ""),
        ("RSS MiB", "right", f"{total['rss_peak_mib']:.0f}"),
        ("CPU-h", "right", _number(total["cpu_hours"])),
    ]
    if with_rusage:
        columns.append(("rusage-h", "right", _number(total["rusage_cpu_hours"])))
    if with_alloc:
        columns += [("Alloc-h", "right", _number(total["alloc_core_hours"])), ("Eff", "right", _percent(total.get("efficiency")))]
    columns.append(("Exit", "right", ""))
    for title, justify, footer in columns:
        table.add_column(title, justify=justify, footer=footer, overflow="fold")
    for r in runs:
        cells = [
            r["run"],
            _duration(r["wall_s"]),
            f"{r['cpu_mean_pct']:.0f}",
            f"{r['cpu_peak_pct']:.0f}",
            f"{r['rss_peak_mib']:.0f}",
            _number(r["cpu_hours"]),
        ]
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
