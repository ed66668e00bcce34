"""`usage` and `aggregate` account like seff/sacct from the run ledger and the profile logs the recorder wrote.

The ground truth is the workload's own rusage (CPU seconds, peak RSS), measured inside it; the
ledger is a real SQLite ledger and the profile log a real recording of the workload.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import pytest

from srcnet_tui.core.runs.ledger import COMPLETED, FAILED, Ledger
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec
from srcnet_tui.core.task import recorder

PY = sys.executable
CORES, RAM_GIB = 2, 1
WORKLOAD = r"""
import json, resource, sys, time
block = bytearray(250 << 20)  # 250 MiB, every page touched: a quarter of the 1 GiB requested
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.monotonic() + 0.8
while time.monotonic() < end:  # one busy core of the two requested
    pass
me = resource.getrusage(resource.RUSAGE_SELF)
json.dump({"cpu_s": me.ru_utime + me.ru_stime, "max_rss_mib": me.ru_maxrss / 1024}, open(sys.argv[1], "w"))
"""


def _spec(index: int) -> TaskSpec:
    outputs = TaskOutputs(f"/arc/r/task-{index:03d}", f"r_{index:03d}", f"task-{index:03d}/profile.csv", "f.log", ())
    return TaskSpec(index, f"hist-{index:03d}", None, "/arc/r/a.par", CORES, RAM_GIB, [], outputs, "img:1")


@pytest.fixture
def recorded_run(state_dir, tmp_path) -> tuple[str, Path, dict]:
    """A two-task run in the ledger: task 1 recorded (completed), task 2 failed with nothing back."""
    results = tmp_path / "results"
    log = results / "task-001" / "profile.csv"
    log.parent.mkdir(parents=True)
    truth_file = tmp_path / "truth.json"
    assert recorder.record([PY, "-S", "-c", WORKLOAD, str(truth_file)], log, interval=0.1) == 0
    with Ledger(state_dir) as ledger:
        ledger.create_run("r-hist", "parallel", [_spec(1), _spec(2)], backend="local", site="local", local_dir=str(results))
        for index, state in ((1, COMPLETED), (2, FAILED)):
            ledger.mark_launching("r-hist", index)
            ledger.mark_launched("r-hist", index, f"s{index}")
            ledger.mark_started("r-hist", index, time.time() + 2.0)  # 2 s in the queue
            ledger.mark_finished("r-hist", index, state, exit_code=0 if state == COMPLETED else 3, message="exit 3")
    truth = json.loads(truth_file.read_text())
    wall = json.loads(recorder.summary_path(log).read_text())["wall_s"]
    return "r-hist", results, {"cpu": truth["cpu_s"] / (CORES * wall), "mem": truth["max_rss_mib"] / 1024 / RAM_GIB}


def test_cpu_and_memory_efficiency_are_within_five_percent_of_the_truth(cli, recorded_run):
    run_id, _, truth = recorded_run

    done = cli("usage", "--run", run_id, "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    first, second = report["tasks"]
    assert first["cpu_efficiency"] == pytest.approx(truth["cpu"], rel=0.05)
    assert first["mem_efficiency"] == pytest.approx(truth["mem"], rel=0.05)
    assert first["queue_wait_s"] == pytest.approx(2.0, abs=0.5)
    assert first["alloc_core_hours"] == pytest.approx(CORES * first["wall_s"] / 3600)
    assert 0 < first["time_efficiency"] < 1e-4  # seconds of a 14-day deadline
    assert (second["state"], second["cause"], second["cpu_hours"]) == ("failed", "exit 3", None)
    assert report["total"]["states"] == {"completed": 1, "failed": 1}
    assert sum(report["histograms"]["mem_efficiency"]) == 1


def test_the_run_report_shows_tasks_causes_and_histograms(cli, recorded_run):
    done = cli("usage", "--run", recorded_run[0], env={"COLUMNS": "80"})

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert any(line.startswith("task-001") and "completed" in line for line in lines)
    assert "task-002 #1: exit 3" in lines
    assert "CPU efficiency of 1 measured attempt(s)" in lines and "Memory efficiency of 1 measured attempt(s)" in lines
    assert any(line.strip().startswith("20-30") and "█" in line for line in lines)  # ~250 MiB of 1 GiB


def test_history_by_run_day_and_site_as_json_table_and_csv(cli, recorded_run, tmp_path):
    by_site = json.loads(cli("usage", "--by", "site", "--json", "--csv", tmp_path / "usage.csv").stdout)
    by_day = json.loads(cli("usage", "--by", "day", "--json").stdout)
    table = cli("usage", env={"COLUMNS": "80"})
    elsewhere = cli("usage", "--site", "canfar")

    assert [g["site"] for g in by_site["groups"]] == ["local"]
    assert by_site["groups"][0]["tasks"] == 2 and by_site["groups"][0]["cpu_hours"] > 0
    (row,) = csv.DictReader((tmp_path / "usage.csv").open())
    assert (row["site"], row["tasks"], row["state_completed"], row["state_failed"]) == ("local", "2", "1", "1")
    assert [g["day"] for g in by_day["groups"]] == [time.strftime("%Y-%m-%d", time.gmtime())]
    assert "r-hist" in table.stdout and max(map(len, table.stdout.splitlines())) <= 80
    assert "never flexible" in by_site["requests_note"] and "Memory: run tasks are never flexible" in table.stdout
    assert elsewhere.returncode == 0 and elsewhere.stdout == "" and "no runs since" in elsewhere.stderr


def test_aggregate_adds_the_ledgers_columns_for_the_tasks_it_knows(cli, recorded_run, tmp_path):
    _, results, truth = recorded_run
    stranger = tmp_path / "other.csv"
    stranger.write_text("elapsed_time,nproc,cpu,mem_real,mem_virtual\n0,1,0,10,20\n1,1,100,10,20\n")

    done = cli("aggregate", results, stranger, "--json")

    assert done.returncode == 0, done.stderr
    known, unknown = sorted(json.loads(done.stdout)["runs"], key=lambda r: r["source"] == str(stranger))
    assert (known["run_id"], known["task"], known["state"], known["cores"]) == ("r-hist", "task-001", "completed", CORES)
    assert known["mem_efficiency"] == pytest.approx(truth["mem"], rel=0.05)
    assert known["cpu_efficiency"] == pytest.approx(truth["cpu"], rel=0.05)
    assert "state" not in unknown and "alloc_core_hours" not in unknown
    assert "never flexible" in json.loads(done.stdout)["requests_note"]  # memory efficiency is against a fixed request


def test_bad_since_and_unknown_run_are_one_line_exit_2(cli, recorded_run):
    for done in (cli("usage", "--since", "last tuesday"), cli("usage", "--run", "nope")):
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr
    assert "--since" in cli("usage", "--since", "x").stderr


def test_an_out_of_memory_attempt_and_its_retry_are_both_accounted_with_their_causes(cli, state_dir):
    with Ledger(state_dir) as ledger:
        ledger.create_run("r-oom", "parallel", [_spec(1)], backend="local", site="local")
        ledger.mark_launching("r-oom", 1)
        ledger.mark_launched("r-oom", 1, "s1")
        text = "out of memory: peak 1.0 GiB of 1 GiB requested"
        ledger.mark_finished("r-oom", 1, FAILED, message=text, cause="oom", advice="retry with --ram 2")
        ledger.plan_retry("r-oom", [_spec(1)], {})
        ledger.mark_launching("r-oom", 1)
        ledger.mark_launched("r-oom", 1, "s2")
        ledger.mark_finished("r-oom", 1, COMPLETED, exit_code=0, cause="completed")

    report = json.loads(cli("usage", "--run", "r-oom", "--json").stdout)
    shown = cli("usage", "--run", "r-oom").stdout

    assert [(t["attempt"], t["state"], t["cause"]) for t in report["tasks"]] == [(1, "oom", text), (2, "completed", None)]
    assert report["total"]["states"] == {"completed": 1} and report["total"]["attempts"] == 2
    assert f"task-001 #1: {text}" in shown.splitlines()


def test_aggregate_of_any_logs_still_works_beside_a_broken_ledger(cli, state_dir, tmp_path):
    (state_dir / "runs.sqlite").write_text("not sqlite at all\n" * 50)
    log = tmp_path / "p.csv"
    log.write_text("elapsed_time,nproc,cpu,mem_real,mem_virtual\n0,1,0,10,20\n1,1,100,10,20\n")

    done = cli("aggregate", log, "--json")

    assert done.returncode == 0 and json.loads(done.stdout)["runs"][0]["cpu_peak_pct"] == 100.0
    assert done.stderr.count("warning: the run ledger was not consulted") == 1
