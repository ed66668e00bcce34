"""`aggregate` as users and scripts call it: table, JSON, CSV, exit codes, problems on stderr."""

from __future__ import annotations

import csv
import json
import sys

from conftest import FIXTURES as ALL_FIXTURES

FIXTURES = ALL_FIXTURES / "profiles"


def test_aggregate_json_over_the_fixture_folder(cli):
    done = cli("aggregate", FIXTURES, "--json", "--cores", "2")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [r["run"] for r in report["runs"]] == ["sofia_big_plain", "sofia_mid"]
    assert all(r["cores"] == 2 and 0 < r["efficiency"] <= 1 for r in report["runs"])
    total = report["total"]
    assert total["cpu_hours"] == sum(r["cpu_hours"] for r in report["runs"])
    assert total["wall_s"] == total["makespan_s"]  # psrecord logs carry no start time


def test_aggregate_json_has_the_design_shape_and_no_allocation_without_cores(cli):
    report = json.loads(cli("aggregate", FIXTURES, "--json").stdout)

    assert set(report) == {"runs", "total"}
    for run in report["runs"]:
        assert {"run", "samples", "wall_s", "cpu_mean_pct", "cpu_peak_pct", "rss_peak_mib", "cpu_hours"} <= set(run)
        assert not {"alloc_core_hours", "efficiency"} & set(run)
    assert {"wall_s", "makespan_s", "cpu_hours", "alloc_core_hours"} <= set(report["total"])
    assert report["total"]["alloc_core_hours"] is None


def test_aggregate_table_by_default_and_csv_file(cli, tmp_path):
    out = tmp_path / "usage.csv"
    done = cli("aggregate", FIXTURES / "sofia_mid.csv", "--csv", out, env={"COLUMNS": "160"})

    assert done.returncode == 0, done.stderr
    assert "sofia_mid" in done.stdout and "1 runs" in done.stdout
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["run"] == "sofia_mid" and float(rows[0]["cpu_peak_pct"]) == 191.8


def test_aggregate_lists_problems_and_still_reports_the_rest(cli, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    done = cli("aggregate", FIXTURES / "sofia_mid.csv", tmp_path / "empty.csv", "--json")

    assert done.returncode == 0
    assert len(json.loads(done.stdout)["runs"]) == 1
    assert done.stderr.strip() == f"warning: {tmp_path / 'empty.csv'}: empty file"


def test_aggregate_exits_2_when_nothing_could_be_read(cli, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "garbled.csv").write_text("elapsed_time,nproc,cpu,mem_real,mem_virtual\n0,1,x,2,3\n")

    done = cli("aggregate", tmp_path, tmp_path / "nope.csv")

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any("empty.csv: empty file" in line for line in lines)
    assert any("garbled.csv line 2" in line for line in lines)
    assert any("nope.csv: no such file or directory" in line for line in lines)
    assert lines[-1].startswith("error: no profile log could be read")
    assert "Traceback" not in done.stderr


def test_recorded_run_aggregates_with_its_exit_status(cli, tmp_path):
    log = tmp_path / "task.csv"
    assert (
        cli(
            "record",
            "--log",
            log,
            "--interval",
            "0.1",
            "--",
            sys.executable,
            "-c",
            "import time; time.sleep(0.3); raise SystemExit(8)",
        ).returncode
        == 8
    )

    run = json.loads(cli("aggregate", tmp_path, "--json").stdout)["runs"][0]

    assert run["run"] == "task" and run["exit_code"] == 8 and run["format"] == "recorder"
    assert run["samples"] >= 3 and "rusage_cpu_hours" in run and run["start_utc"].endswith("Z")


def test_a_command_that_never_ran_is_reported_with_the_recorders_reason(cli, tmp_path):
    assert cli("record", "--log", tmp_path / "never.csv", "--", "no-such-finder").returncode == 127

    done = cli("aggregate", tmp_path)

    assert done.returncode == 2
    assert f"{tmp_path / 'never.csv'}: no samples after the header (command not found: no-such-finder)" in done.stderr


def test_a_csv_saved_with_a_byte_order_mark_aggregates_like_without(cli, tmp_path):
    plain = (FIXTURES / "sofia_mid.csv").read_bytes()
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + plain)
    with_bom = cli("aggregate", tmp_path / "bom.csv", "--json")
    without = cli("aggregate", FIXTURES / "sofia_mid.csv", "--json")
    assert with_bom.returncode == 0 and with_bom.stderr == "", with_bom.stderr
    assert json.loads(with_bom.stdout)["total"] == json.loads(without.stdout)["total"]


def test_elapsed_time_going_backwards_is_a_problem_naming_the_line_not_negative_hours(cli, tmp_path):
    header = "elapsed_time,nproc,cpu,mem_real,mem_virtual\n"
    (tmp_path / "back.csv").write_text(header + "0,1,0,10,20\n5,1,100,10,20\n2,1,100,10,20\n")
    done = cli("aggregate", tmp_path / "back.csv", FIXTURES / "sofia_mid.csv", "--json")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert [row["source"] for row in report["runs"]] == [str(FIXTURES / "sofia_mid.csv")]
    assert all(row["wall_s"] >= 0 and row["cpu_hours"] >= 0 for row in report["runs"])
    assert done.stderr.strip() == f"warning: {tmp_path / 'back.csv'} line 4: elapsed time goes backwards; log left out"
