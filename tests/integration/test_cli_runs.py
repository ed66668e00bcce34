"""run / parallel / runs end to end on a real local server, with the seed's config.ini (paths adjusted)."""

from __future__ import annotations

import configparser
import json

import pytest
from conftest import wait_for
from runs_workspace import seed_workspace, start_workspace

from srcnet_tui.core import usage
from srcnet_tui.core.runs.ledger import Ledger


@pytest.fixture
def workspace(tmp_path, state_dir, test_env, local_server_factory):
    return start_workspace(tmp_path, state_dir, test_env, local_server_factory)


def _json_result(proc) -> dict:
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def test_run_one_task_brings_back_logs_catalogue_and_manifest(workspace, cli, state_dir):
    config, _ = workspace
    proc = cli("run", config, "--json", timeout=90)
    assert proc.returncode == 0, proc.stderr
    result = _json_result(proc)
    run_id = result["id"]
    assert proc.stderr.index(f"run {run_id}") < proc.stderr.index("launched")
    assert result["counts"]["completed"] == 1 and result["tasks"] == 1
    results = state_dir / "runs" / run_id
    names = {p.name for p in results.iterdir()}
    assert {
        "sofia_profile.txt",
        "sofia_profile.txt.summary.json",
        f"{run_id}_001_cat.txt",
        f"{run_id}_001_sofia.log",
        "run.json",
    } <= names
    manifest = json.loads((results / "run.json").read_text())
    assert manifest["tasks"][0]["session_id"] == result["tasks_detail"][0]["session_id"]
    assert manifest["tasks"][0]["exit_code"] == 0
    assert {c["path"].rsplit("/", 1)[-1] for c in manifest["checksums"]} == {"sofia.par", "sofia_test_datacube.fits"}
    assert all(len(c["md5"]) == 32 for c in manifest["checksums"])
    assert manifest["software"]["srcnet-tui"] and manifest["config"]["section"] == "sofia-task"
    remote_manifest = state_dir / "arc" / "projects/WALLABY_test/canfar-sofia/tasks" / run_id / "run.json"
    assert json.loads(remote_manifest.read_text())["run_id"] == run_id
    delivered = config.parent / "sofia_profile.txt"  # where the seed's profile_log says, beside config.ini
    assert delivered.read_bytes() == (results / "sofia_profile.txt").read_bytes()


def test_run_honours_logs_dir(workspace, cli):
    config, _ = workspace
    config.write_text(config.read_text().replace("cmd_file = run.sh", "cmd_file = run.sh\nlogs_dir = task-logs"))
    proc = cli("run", config, "--json", timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert (config.parent / "task-logs" / _json_result(proc)["id"] / "run.json").is_file()


def test_parallel_counts_no_sources_as_a_result_and_reports_usage(workspace, cli, state_dir):
    config, _ = workspace
    proc = cli("parallel", config, "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = _json_result(proc)
    assert result["counts"]["completed"] == 2 and result["counts"]["no-sources"] == 1
    logs = config.parent / "logs" / result["id"]
    profiles = sorted(logs.glob("sofia_profile_*.txt"))
    assert [p.name for p in profiles] == ["sofia_profile_001.txt", "sofia_profile_002.txt", "sofia_profile_003.txt"]
    assert len(list(logs.glob("*_cat.txt"))) == 2
    assert "[sofia-parallel] cores: not set; the default 8 is not offered by the platform" in proc.stderr
    expected = usage.aggregate(usage.load(profiles).runs, cores=2)
    assert result["usage"]["total"] == json.loads(json.dumps(expected["total"]))
    assert [r["run"] for r in result["usage"]["runs"]] == ["task-001", "task-002", "task-003"]
    manifest = json.loads((logs / "run.json").read_text())
    assert [r["run"] for r in manifest["usage"]["runs"]] == ["task-001", "task-002", "task-003"]

    listed = cli("runs", "--json")
    assert listed.returncode == 0
    runs = json.loads(listed.stdout)
    assert runs[0]["id"] == result["id"] and runs[0]["tasks"] == 3
    assert runs[0]["counts"]["no-sources"] == 1 and runs[0]["created"].endswith("Z")


def test_failed_task_shows_its_last_lines_keeps_its_products_and_exits_1(workspace, cli, state_dir):
    config, _ = workspace
    seed_workspace(config.parent, state_dir, thresholds=("3.5", "oops"))
    (config.parent / "parameter_files" / "sofia_03.par").unlink()
    proc = cli("parallel", config, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "ERROR: Failed to parse scfind.threshold" in proc.stderr
    assert "1 completed, 1 failed" in proc.stderr
    assert any(line.endswith("1 of 2 tasks failed") for line in proc.stderr.splitlines()), proc.stderr
    run_id = json.loads(cli("runs", "--json").stdout)[0]["id"]
    logs = config.parent / "logs" / run_id
    assert (logs / "sofia_profile_002.txt").exists() and (logs / f"{run_id}_002_sofia.log").exists()
    manifest = json.loads((logs / "run.json").read_text())
    assert [t["exit_code"] for t in manifest["tasks"]] == [0, 7]


def test_dry_run_prints_the_plan_and_creates_nothing(workspace, cli, state_dir):
    config, server = workspace
    proc = cli("parallel", config, "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [t["index"] for t in plan["tasks"]] == [1, 2, 3]
    with server.client() as http:
        offered = http.get("context").json()
    cores = max(n for n in offered["cores"]["options"] if n <= 8)
    ram = max(n for n in offered["memoryGB"]["options"] if n <= 32)
    assert {(t["cores"], t["ram_gb"]) for t in plan["tasks"]} == {(cores, ram)}  # what the run will request
    assert plan["config"]["fitted"]["cores"] == 8 and plan["adjustments"]
    assert plan["tasks"][0]["args"][0] == "--finder"
    with server.client() as http:
        assert http.get("session").json() == []
    assert json.loads(cli("runs", "--json").stdout) == []


def test_no_wait_returns_after_launch_and_resume_finishes(workspace, cli):
    config, _ = workspace
    proc = cli("parallel", config, "--no-wait", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = _json_result(proc)
    assert result["counts"]["launched"] + result["counts"]["completed"] + result["counts"]["no-sources"] == 3

    def refreshed_done():
        runs = json.loads(cli("runs", "--refresh", "--json").stdout)
        return runs[0]["counts"]["launched"] == 0 and runs[0]

    run = wait_for(refreshed_done, timeout_s=60, interval_s=0.5, message="the refreshed ledger to see every task end")
    assert run["counts"]["completed"] == 2 and run["counts"]["no-sources"] == 1 and run["phase"] == "launched"
    finished = cli("resume", result["id"], "--json", timeout=90)
    assert finished.returncode == 0, finished.stderr
    assert _json_result(finished)["phase"] == "done"


@pytest.mark.parametrize(
    "command, section, values, named",
    [
        ("run", "sofia-task", {"cores": "64"}, "bad.ini [sofia-task] cores: 64 is not offered"),
        ("run", "sofia-task", {"gpus": "1"}, "bad.ini [sofia-task] gpus: 1 is not offered by the platform (options: none)"),
        (
            "run",
            "sofia-task",
            {"image": "docker.io/library/python:3"},
            "bad.ini [sofia-task] image: 'docker.io/library/python:3'",
        ),
        (
            "run",
            "sofia-task",
            {"parameter_file": "/arc/nowhere/sofia.par"},
            "bad.ini [sofia-task] parameter_file: no such file: /arc/nowhere/sofia.par",
        ),
        (
            "parallel",
            "sofia-parallel",
            {"image_file": "/arc/nowhere/cube.fits"},
            "bad.ini [sofia-parallel] image_file: no such file",
        ),
        (
            "parallel",
            "sofia-parallel",
            {"split": "auto", "parameter_file": "sofia.par", "image_file": "sofia.par"},
            "bad.ini [sofia-parallel] image_file: ",
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_refused_config_exits_2_naming_the_key_and_leaves_nothing_behind(
    workspace, cli, state_dir, command, section, values, named, dry_run
):
    config, server = workspace
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    parser[section].update(values)
    bad = config.with_name("bad.ini")
    with bad.open("w") as handle:
        parser.write(handle)
    arc_before = sorted(state_dir.joinpath("arc").rglob("*"))

    proc = cli(command, bad, *(["--dry-run"] if dry_run else []))

    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith(f"error: {named}"), proc.stderr
    assert "Traceback" not in proc.stderr and "resume" not in proc.stderr
    assert json.loads(cli("runs", "--json").stdout) == []
    assert sorted(state_dir.joinpath("arc").rglob("*")) == arc_before
    with server.client() as http:
        assert http.get("session").json() == []


def test_an_unknown_run_or_a_bad_option_exits_2_naming_it(workspace, cli):
    config, _ = workspace
    missing = cli("resume", "20990101-000000-dead")
    assert missing.returncode == 2 and "20990101-000000-dead" in missing.stderr
    stalled = cli("parallel", config, "--max-launching", "0")
    assert stalled.returncode == 2 and "--max-launching: must be a positive integer, not '0'" in stalled.stderr
    assert json.loads(cli("runs", "--json").stdout) == []


def test_max_parallel_holds_tasks_back_until_others_finish(workspace, cli, state_dir):
    config, _ = workspace
    config.write_text(config.read_text().replace("[sofia-parallel]\n", "[sofia-parallel]\nmax_parallel = 1\n"))
    (config.parent / "parameter_files" / "sofia_03.par").unlink()
    proc = cli("parallel", config, "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id = _json_result(proc)["id"]
    with Ledger(state_dir) as ledger:
        tasks = ledger.tasks(run_id)
    for earlier, later in zip(tasks, tasks[1:]):
        assert later.launching_at >= earlier.finished_at


def test_parameter_file_with_shell_metacharacters_is_refused_before_anything_exists(workspace, cli, tmp_path):
    config, server = workspace
    evil = config.parent / "parameter_files" / "x $(touch pwned);touch pwned.par"
    evil.write_text("scfind.threshold = 3.5\n")
    proc = cli("parallel", config, cwd=config.parent)
    assert proc.returncode == 2 and "parameter_file_dir" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("pwned"))
    with server.client() as http:
        assert http.get("session").json() == []
