"""Parsing psrecord/recorder logs and the accounting built on them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES as ALL_FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from srcnet_tui.core import usage
from srcnet_tui.core.task.recorder import summary_path

FIXTURES = ALL_FIXTURES / "profiles"
HEADER = "elapsed_time,nproc,cpu,mem_real,mem_virtual,read_count,write_count,read_bytes,write_bytes\n"


def _write_csv(path: Path, rows, header: str = HEADER) -> Path:
    path.write_text(header + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def _steady(path: Path, seconds: int = 10, cpu: float = 200.0, mem: float = 100.0) -> Path:
    rows = [(float(t), 2, 0.0 if t == 0 else cpu, mem + t, mem + 500, t, t, 4096 * t, 8192 * t) for t in range(seconds + 1)]
    return _write_csv(path, rows)


def _fixture_columns(path: Path) -> dict[str, list[float]]:
    if path.suffix == ".csv":
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        return {key: [float(r[key]) for r in rows] for key in rows[0]}
    lines = [line.split() for line in path.read_text().splitlines() if not line.startswith("#")]
    names = usage.PLAIN_COLUMNS + usage.IO_COLUMNS
    return {name: [float(fields[i]) for fields in lines] for i, name in enumerate(names)}


@pytest.mark.parametrize("name", ["sofia_big_plain.txt", "sofia_mid.csv"])
def test_fixtures_aggregate_to_the_values_in_the_files(name):
    path = FIXTURES / name
    loaded = usage.load([path])
    assert loaded.problems == []
    run = usage.aggregate(loaded.runs)["runs"][0]
    raw = _fixture_columns(path)
    t, cpu = raw["elapsed_time"], raw["cpu"]

    assert run["samples"] == len(t)
    assert run["cpu_peak_pct"] == pytest.approx(max(cpu[1:]), abs=0.05)
    assert run["rss_peak_mib"] == pytest.approx(max(raw["mem_real"]), abs=0.001)
    step_sum = sum(c * (b - a) for a, b, c in zip(t, t[1:], cpu[1:])) / 100 / 3600
    assert run["cpu_hours"] == pytest.approx(step_sum, rel=1e-3)
    assert run["cpu_mean_pct"] == pytest.approx(step_sum * 3600 * 100 / (t[-1] - t[0]), abs=0.1)
    assert t[-1] < run["wall_s"] < t[-1] + 0.2  # one ~0.1 s interval after the last sample
    assert run["write_bytes"] == raw["write_bytes"][-1] - raw["write_bytes"][0]


def test_fixture_folder_loads_both_formats():
    loaded = usage.load([FIXTURES])
    assert sorted((r.name, r.kind) for r in loaded.runs) == [("sofia_big_plain", "psrecord-plain"), ("sofia_mid", "psrecord-csv")]
    assert loaded.problems == []


def test_seed_formula_regression_400_percent_for_an_hour_is_4_cpu_hours(tmp_path):
    rows = [(float(t), 5, 0.0 if t == 0 else 400.0, 1000.0, 2000.0) for t in range(3601)]
    log = _write_csv(tmp_path / "hour.csv", rows, header="elapsed_time,nproc,cpu,mem_real,mem_virtual\n")

    report = usage.aggregate(usage.load([log]).runs, cores=8)
    run = report["runs"][0]

    assert run["cpu_hours"] == pytest.approx(4.0)  # the seed printed 400 * 8 * 3600 / 3600 = 3200
    assert run["cpu_mean_pct"] == pytest.approx(400.0)
    assert run["alloc_core_hours"] == pytest.approx(8.0, rel=1e-3)
    assert run["efficiency"] == pytest.approx(0.5, rel=1e-3)
    assert "read_bytes" not in run  # no I/O columns in this log


def test_report_has_the_design_json_shape(tmp_path):
    report = usage.aggregate(usage.load([_steady(tmp_path / "a.csv")]).runs, cores=2)
    assert set(report) == {"runs", "total"}
    assert {
        "run",
        "samples",
        "wall_s",
        "cpu_mean_pct",
        "cpu_peak_pct",
        "rss_peak_mib",
        "cpu_hours",
        "alloc_core_hours",
        "efficiency",
    } <= set(report["runs"][0])
    assert {"wall_s", "makespan_s", "cpu_hours", "alloc_core_hours"} <= set(report["total"])
    json.dumps(report)


def test_bad_files_are_reported_by_name_and_line_while_others_aggregate(tmp_path):
    _steady(tmp_path / "good.csv")
    truncated = _steady(tmp_path / "truncated.csv")
    truncated.write_bytes(truncated.read_bytes()[:-7])  # killed writer: last row cut short
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header_only.csv").write_text(HEADER)
    garbled = _steady(tmp_path / "garbled.csv").read_text().splitlines(keepends=True)
    garbled[4] = "3.0,2,abc,1,2,3,4,5,6\n"
    (tmp_path / "garbled.csv").write_text("".join(garbled))
    (tmp_path / "notes.txt").write_text("a catalogue, not a profile\n")

    loaded = usage.load([tmp_path])

    assert sorted(r.name for r in loaded.runs) == ["good", "truncated"]
    assert len(next(r for r in loaded.runs if r.name == "truncated").data) == 10  # 11 rows minus the cut one
    text = "\n".join(loaded.problems)
    assert f"{tmp_path / 'empty.csv'}: empty file" in text
    assert f"{tmp_path / 'garbled.csv'} line 5" in text
    assert "header_only.csv" in text
    assert len(loaded.problems) == 3
    assert loaded.skipped == [tmp_path / "notes.txt"]
    total = usage.aggregate(loaded.runs)["total"]
    assert total["runs"] == 2 and total["write_bytes"] == 81920 + 73728  # 10 and 9 intervals


def test_named_file_that_is_not_a_log_is_a_problem(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    loaded = usage.load([notes, tmp_path / "absent.csv"])
    assert loaded.runs == []
    assert sorted(loaded.problems) == [
        f"{tmp_path / 'absent.csv'}: no such file or directory",
        f"{notes} line 1: not a psrecord or recorder log (header 'hello')",
    ]


def test_wrong_width_row_is_reported(tmp_path):
    rows = _steady(tmp_path / "wide.csv").read_text().splitlines(keepends=True)
    rows[2] = rows[2].rstrip("\n") + ",99\n"
    (tmp_path / "wide.csv").write_text("".join(rows))
    loaded = usage.load([tmp_path / "wide.csv", _steady(tmp_path / "ok.csv")])
    assert [r.name for r in loaded.runs] == ["ok"]
    assert loaded.problems == [f"{tmp_path / 'wide.csv'} line 3: not a sample row ({rows[2].strip()!r})"]


def test_recorder_summary_supplies_wall_rusage_cores_and_start(tmp_path):
    log = _steady(tmp_path / "rec.csv")
    summary_path(log).write_text(
        json.dumps(
            {
                "wall_s": 10.5,
                "start_utc": "2026-01-01T00:00:00.000Z",
                "exit_code": 8,
                "signal": None,
                "status": 8,
                "rusage": {"user_s": 18.0, "system_s": 2.0, "max_rss_mib": 120.0},
                "cores": {"given": 4.0},
            }
        )
    )

    run = usage.aggregate(usage.load([tmp_path]).runs)["runs"][0]

    assert run["format"] == "recorder" and run["exit_code"] == 8
    assert run["wall_s"] == 10.5
    assert run["rusage_cpu_hours"] == pytest.approx(20.0 / 3600) and run["rusage_max_rss_mib"] == 120.0
    assert run["alloc_core_hours"] == pytest.approx(4 * 10.5 / 3600)
    assert run["efficiency"] == pytest.approx((20.0 / 3600) / (4 * 10.5 / 3600), rel=1e-2)


def test_caller_mapping_of_cores_wins_and_unknown_cores_leave_no_allocation(tmp_path):
    runs = usage.load([_steady(tmp_path / "a.csv"), _steady(tmp_path / "b.csv")]).runs
    report = usage.aggregate(runs, cores={"a": 2})
    a, b = report["runs"]
    assert a["cores"] == 2 and "alloc_core_hours" in a
    assert "alloc_core_hours" not in b and "efficiency" not in b
    assert report["total"]["alloc_core_hours"] == a["alloc_core_hours"]


def test_makespan_counts_overlapping_runs_once():
    rows = [
        {"wall_s": 100.0, "start_utc": "2026-01-01T00:00:00Z"},
        {"wall_s": 100.0, "start_utc": "2026-01-01T00:00:50Z"},
        {"wall_s": 10.0, "start_utc": "2026-01-01T01:00:00Z"},
        {"wall_s": 30.0},
    ]
    assert usage.makespan_s(rows) == pytest.approx(150 + 10 + 30)


def test_duplicate_file_names_get_their_folder(tmp_path):
    for task in ("task1", "task2"):
        (tmp_path / task).mkdir()
        _steady(tmp_path / task / "sofia_profile.txt")
    names = sorted(r.name for r in usage.load([tmp_path]).runs)
    assert names == ["task1/sofia_profile", "task2/sofia_profile"]


def test_timeseries_keeps_cpu_and_memory_peaks_on_a_coarse_grid(tmp_path):
    rows = [(t * 0.5, 1, 0.0 if t == 0 else (300.0 if t % 2 else 100.0), 50.0 + (t == 7) * 500, 60.0) for t in range(41)]
    run = usage.load([_write_csv(tmp_path / "wave.csv", rows, "elapsed_time,nproc,cpu,mem_real,mem_virtual\n")]).runs

    series = usage.timeseries(run, step_s=2.0)

    assert list(series.columns) == ["run", "t", "cpu", "mem"]
    assert series["t"].tolist() == [2.0 * k for k in range(1, 11)]
    assert np.allclose(series["cpu"], 300.0)  # every 2 s step holds a 300 % sample
    assert series["cpu"].max() == usage.aggregate(run)["runs"][0]["cpu_peak_pct"]
    assert series["mem"].max() == 550.0


def test_a_fine_grid_draws_each_sample_over_its_own_span():
    run = _run_of([0.0, 1.0, 2.0, 3.0], [0.0, 50.0, 150.0, 0.0], [1.0, 1.0, 1.0, 1.0])

    series = usage.timeseries([run], step_s=0.5)

    assert series["cpu"].tolist() == [50.0, 50.0, 150.0, 150.0, 0.0, 0.0]


def test_timeseries_puts_runs_on_one_grid(tmp_path):
    runs = usage.load([_steady(tmp_path / "short.csv", 10), _steady(tmp_path / "long.csv", 100)]).runs
    series = usage.timeseries(runs)
    steps = series.groupby("run")["t"].apply(lambda t: np.round(np.diff(t), 9).tolist())
    assert set(steps["short"]) == set(steps["long"])
    assert series.groupby("run")["t"].max()["long"] == pytest.approx(100, abs=1)


def test_table_shows_runs_and_a_totals_row(tmp_path):
    report = usage.aggregate(usage.load([_steady(tmp_path / "alpha.csv")]).runs, cores=4)
    console = Console(width=160, record=True)
    console.print(usage.render_table(report))
    text = console.export_text()
    assert "alpha" in text and "1 runs" in text and "Alloc-h" in text and "makespan" in text


def test_a_run_table_with_every_column_fits_80_columns_on_one_header_line(tmp_path):
    path = _steady(tmp_path / "profile_001.csv")
    summary_path(path).write_text(json.dumps({"exit_code": 0, "rusage": {"user_s": 1.0, "system_s": 0.5}}))
    loaded = usage.load([path], names={str(path): "task-001"})
    console = Console(width=80, record=True)
    console.print(usage.render_table(usage.aggregate(loaded.runs, cores=2)))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "Run" in line)
    assert header.split() == ["Run", "Wall", "CPU%", "Peak%", "RSS", "MiB", "CPU-h", "rusage-h", "Alloc-h", "Eff", "Exit"]
    assert "task-001" in text


def test_many_logs_parse_on_threads_identically_to_one_by_one(tmp_path):
    paths = [_steady(tmp_path / f"r{i:03d}.csv", seconds=20 + i) for i in range(40)]
    batched = usage.load(paths, workers=3)
    single = [usage.load([p]).runs[0] for p in paths]
    assert [r.name for r in batched.runs] == [r.name for r in single]
    for a, b in zip(batched.runs, single):
        assert np.array_equal(a.data, b.data)
        assert a.frame.columns.tolist() == list(a.columns)


@pytest.mark.parametrize("name", ["sofia_big_plain.txt", "sofia_mid.csv"])
def test_aggregate_columns_only_give_the_same_report(name):
    full = usage.aggregate(usage.load([FIXTURES / name]).runs)
    lean = usage.aggregate(usage.load([FIXTURES / name], columns=usage.AGGREGATE_COLUMNS).runs)
    assert lean == full


def test_mixed_layouts_in_one_folder_and_a_complete_unterminated_last_row(tmp_path):
    _write_csv(
        tmp_path / "noio.csv",
        [(0.0, 1, 0.0, 10.0, 20.0), (1.0, 1, 50.0, 12.0, 20.0)],
        header="elapsed_time,nproc,cpu,mem_real,mem_virtual\n",
    )
    (tmp_path / "plain.txt").write_text(
        "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n"
        "       0.000        0.000        9.672       14.645\n"
        "       0.500       93.100      210.883      358.910"
    )  # no newline at the end, but whole
    _steady(tmp_path / "io.csv")

    loaded = usage.load([tmp_path])

    assert loaded.problems == []
    runs = {r.name: r for r in loaded.runs}
    assert set(runs) == {"noio", "plain", "io"}
    assert runs["plain"].column("cpu").tolist() == [0.0, 93.1]
    assert runs["noio"].io_totals is None and runs["io"].io_totals["write_bytes"] == 81920
    report = {r["run"]: r for r in usage.aggregate(loaded.runs)["runs"]}
    assert report["plain"]["rss_peak_mib"] == 210.883


def _run_of(times, cpu, mem) -> usage.RunProfile:
    data = np.column_stack([times, cpu, mem]).astype(float)
    return usage.RunProfile("r", Path("r.csv"), "psrecord-csv", usage.AGGREGATE_COLUMNS, data)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 5.0), st.floats(0, 800), st.floats(0, 4000)), min_size=1, max_size=60),
    st.floats(0.05, 10.0),
)
def test_the_chart_of_any_run_tops_at_its_aggregate_peak(steps, step_s):
    times = np.cumsum([0.0] + [dt for dt, _, _ in steps])
    cpu = np.array([0.0] + [c for _, c, _ in steps])
    mem = np.array([1.0] + [m for _, _, m in steps])
    run = _run_of(times, cpu, mem)

    series = usage.timeseries([run], step_s=step_s)
    row = usage.aggregate([run])["runs"][0]

    assert series["cpu"].max() == pytest.approx(row["cpu_peak_pct"], abs=0.05)  # the report rounds to 0.1
    assert set(series["cpu"]) <= set(cpu) | {0.0}  # drawn values are measured ones, nothing interpolated
    assert series["mem"].max() <= mem.max() + 1e-9
    assert series["t"].iloc[-1] >= times[-1]


def test_a_single_sample_run_aggregates_and_charts():
    run = _run_of([0.0], [0.0], [12.0])
    row = usage.aggregate([run])["runs"][0]
    assert row["samples"] == 1 and row["cpu_hours"] == 0 and row["rss_peak_mib"] == 12.0
    assert len(usage.timeseries([run])) == 1
