"""The state folder and its ledger when they are not what a run needs: one line naming the path, exit 2;
and the ledger (which holds the runs' env values) readable by its owner only."""

from __future__ import annotations

import configparser
import json
import stat

import pytest
from runs_workspace import make_unreadable, seed_workspace
from test_skaha_client_wire import scripted  # noqa: F401  (fixture)

from srcnet_tui.core.runs.ledger import Ledger
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec


def _set(config, section: str, key: str, value: str) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    parser[section][key] = value
    with config.open("w") as handle:
        parser.write(handle)


def _one_error_line(proc, path) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0], proc.stderr


@pytest.mark.parametrize("command", [("runs",), ("resume", "20990101-000000-dead")])
@pytest.mark.parametrize("broken", ["garbage", "folder"])
def test_a_ledger_that_is_not_a_database_is_named_in_one_line(cli, state_dir, broken, command):
    ledger = state_dir / "runs.sqlite"
    ledger.mkdir() if broken == "folder" else ledger.write_text("not sqlite at all\n" * 50)
    proc = cli("--backend", "local", *command)
    _one_error_line(proc, ledger)


def test_a_state_folder_that_is_a_file_is_refused_not_empty(cli, tmp_path):
    not_a_folder = tmp_path / "state-file"
    not_a_folder.write_text("x")
    proc = cli("--backend", "local", "--state-dir", not_a_folder, "runs")
    _one_error_line(proc, not_a_folder)
    assert "no runs yet" not in proc.stderr


def test_the_ledger_and_a_state_folder_it_creates_are_private(tmp_path):
    state = tmp_path / "new-state"
    with Ledger(state) as ledger:
        outputs = TaskOutputs("/arc/r1/task-001", "r1_001", "p.txt", "f.log", ())
        ledger.create_run("r1", "task", [TaskSpec(1, "n-1", None, "/arc/a.par", 1, 1, [], outputs, "img:1", {"TOKEN": "secret"})])
        files = [p for p in state.iterdir() if p.name.startswith("runs.sqlite")]
        assert {p.name for p in files} >= {"runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm"}
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_an_existing_world_readable_ledger_is_made_private(tmp_path):
    Ledger(tmp_path).close()
    (tmp_path / "runs.sqlite").chmod(0o644)
    Ledger(tmp_path).close()
    assert stat.S_IMODE((tmp_path / "runs.sqlite").stat().st_mode) == 0o600


@pytest.mark.parametrize("key", ["parameter_file", "image_file"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_an_unreadable_input_is_refused_before_the_run_is_recorded(cli, tmp_path, state_dir, key, dry_run):
    config = seed_workspace(tmp_path / "work", state_dir)
    section = configparser.ConfigParser(interpolation=None)
    section.read(config)
    make_unreadable(config.parent / section["sofia-task"][key])
    proc = cli("--backend", "local", "run", config, *(["--dry-run"] if dry_run else []))
    _one_error_line(proc, f"[sofia-task] {key}: cannot read")
    assert not (state_dir / "runs.sqlite").exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_logs_dir_that_cannot_hold_results_is_refused_before_anything_is_launched(cli, tmp_path, state_dir, dry_run):
    config = seed_workspace(tmp_path / "work", state_dir)
    (config.parent / "results").write_text("a file, not a folder\n")
    _set(config, "sofia-parallel", "logs_dir", "results/run-logs")
    proc = cli("--backend", "local", "parallel", config, *(["--dry-run"] if dry_run else []))
    _one_error_line(proc, "[sofia-parallel] logs_dir: cannot keep results in")
    assert not (state_dir / "runs.sqlite").exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_storage_path_with_dot_dot_is_refused_before_the_run_is_recorded(cli, tmp_path, state_dir, dry_run):
    config = seed_workspace(tmp_path / "work", state_dir)
    _set(config, "sofia-task", "vos_dir", "/arc/../../x")
    proc = cli("--backend", "local", "run", config, *(["--dry-run"] if dry_run else []))
    _one_error_line(proc, "[sofia-task] vos_dir: '..' is not allowed")
    assert not (state_dir / "runs.sqlite").exists()


def test_a_run_on_a_struggling_platform_shows_the_retries_and_records_nothing(cli, scripted, tmp_path, state_dir):
    server = scripted(lambda request: (503, "Service Unavailable", {"Retry-After": "1"}))
    config = seed_workspace(tmp_path / "work", state_dir)
    proc = cli("--url", server.url, "--token", "t", "run", config, env={"SRCNET_RETRY_TOTAL_S": "4"})
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stderr
    assert any("retrying (" in line for line in proc.stderr.splitlines()), proc.stderr
    assert not (state_dir / "runs.sqlite").exists()


def test_a_run_without_a_credential_says_so_in_one_line_before_any_backend_notice(cli, tmp_path, state_dir):
    config = seed_workspace(tmp_path / "work", state_dir)
    proc = cli("--backend", "canfar", "run", config, "--dry-run")
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == ["error: no CANFAR credential: give --token or --cert, or run cadc-get-cert"]


def test_a_state_folder_created_by_a_run_is_private(cli, tmp_path):
    fresh = tmp_path / "fresh-state"
    config = seed_workspace(tmp_path / "work", tmp_path / "unused")  # [sofia-task] needs nothing on /arc
    proc = cli("--backend", "local", "--state-dir", fresh, "run", config, "--no-wait")
    try:
        assert proc.returncode == 0, proc.stderr
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
        assert stat.S_IMODE((fresh / "runs.sqlite").stat().st_mode) == 0o600
    finally:
        cli("--state-dir", fresh, "serve-local", "--stop")


def test_results_folder_broken_mid_run_is_one_line_and_the_run_resumes(cli, tmp_path, state_dir, test_env, local_server_factory):
    import shutil

    from runs_workspace import start_workspace

    config, _ = start_workspace(tmp_path, state_dir, test_env, local_server_factory)
    _set(config, "sofia-task", "logs_dir", "results")
    launched = cli("run", config, "--no-wait", "--json", timeout=60)
    assert launched.returncode == 0, launched.stderr
    run_id = json.loads(launched.stdout)["id"]
    results = config.parent / "results"
    shutil.rmtree(results, ignore_errors=True)
    results.write_text("now a file\n")

    broken = cli("resume", run_id, timeout=60)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr, broken.stderr
    errors = [line for line in broken.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(results) in errors[0], broken.stderr
    assert f"resume {run_id}" in broken.stderr

    results.unlink()
    finished = cli("resume", run_id, "--json", timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["phase"] == "done"
