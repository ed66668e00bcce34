"""`runs` says where each run ran and fits 80 columns; `runs --json` speaks run.json's field names too."""

from __future__ import annotations

import json

from srcnet_tui.core.runs.ledger import Ledger
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec


def _spec(index: int) -> TaskSpec:
    outputs = TaskOutputs(f"/arc/r/task-{index:03d}", f"r_{index:03d}", "p.txt", "f.log", ())
    return TaskSpec(index, f"n-{index}", None, "/arc/a.par", 1, 1, [], outputs, "img:1")


def _two_runs(state_dir) -> list[str]:
    ids = ["20261201-101500-beef", "20261201-111500-cafe"]
    with Ledger(state_dir) as ledger:
        ledger.create_run(ids[0], "parallel", [_spec(i) for i in range(1, 11)], backend="canfar", site="canfar",
                          remote_dir="/arc/projects/WALLABY_test/canfar-sofia/tasks/" + ids[0])  # fmt: skip
        ledger.create_run(ids[1], "split", [_spec(1)], backend="local", remote_dir="/arc/home/q/" + ids[1])
    return ids


def test_runs_shows_the_site_and_fits_80_columns_with_whole_ids(cli, state_dir):
    ids = _two_runs(state_dir)

    done = cli("runs", env={"COLUMNS": "80"})

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[0].split() == ["run", "created", "UTC", "kind", "site", "phase", "done", "ok", "fail", "lost"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == set(ids)
    assert rows[ids[0]][4] == "canfar" and rows[ids[0]][6] == "0/10"
    assert rows[ids[1]][4] == "local"  # recorded before sites: its backend


def test_runs_json_keeps_id_and_adds_run_jsons_names(cli, state_dir):
    ids = _two_runs(state_dir)

    listed = json.loads(cli("runs", "--json").stdout)

    assert [r["id"] for r in listed] == ids[::-1] and [r["run_id"] for r in listed] == ids[::-1]
    assert listed[1]["output_dir"] == listed[1]["remote_dir"] == "/arc/projects/WALLABY_test/canfar-sofia/tasks/" + ids[0]
    assert (listed[1]["site"], listed[0]["site"], listed[0]["backend"]) == ("canfar", "local", "local")
    assert list(listed[0])[:2] == ["id", "run_id"]


def test_a_dry_run_fits_80_columns_and_cuts_no_path(tmp_path, state_dir, test_env, local_server_factory, cli):
    from runs_workspace import start_workspace

    config, _ = start_workspace(tmp_path, state_dir, test_env, local_server_factory)

    done = cli("parallel", config, "--dry-run", env={"COLUMNS": "80"})

    assert done.returncode == 0, done.stderr
    tables = done.stdout.split("\nimage: ")[0].splitlines()  # then lines of text, which the terminal wraps
    assert max(map(len, tables)) <= 80 and "…" not in done.stdout
    assert "parameter file" in done.stdout and "session name" in done.stdout
