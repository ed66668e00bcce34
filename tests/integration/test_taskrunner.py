"""srcnet-task as a session runs it: real processes, a fake ``sofia`` script on PATH, real files."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]

FAKE_SOFIA = """#!{python}
# A stand-in for SoFiA-2: records its argv, prints like SoFiA, exits as its parameter file says.
import json, os, sys, time
args = sys.argv[1:]
settings = dict(line.split("=", 1) for line in open(args[0]).read().split()) if os.path.getsize(args[0]) else {{}}
overrides = dict(a.split("=", 1) for a in args[1:])
out = overrides["output.directory"]
json.dump({{"argv": sys.argv, "cwd": os.getcwd()}}, open(os.path.join(out, "argv.json"), "w"))
print("Pipeline started", flush=True)
print("WARNING: a warning on stderr", file=sys.stderr, flush=True)
if "fake.sleep" in settings:
    open(os.path.join(out, "started"), "w").close()
    time.sleep(float(settings["fake.sleep"]))
code = int(settings.get("fake.exit", 0))
if code == 0:
    open(os.path.join(out, overrides["output.filename"] + "_cat.xml"), "w").write("<VOTABLE/>")
    print("Pipeline finished.", flush=True)
sys.exit(code)
"""


@pytest.fixture
def fake_path(tmp_path):
    """A PATH whose ``sofia`` is the fake finder (a real executable script)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sofia = bin_dir / "sofia"
    sofia.write_text(FAKE_SOFIA.format(python=sys.executable))
    sofia.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"


def task_env(path: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SRCNET_ARC_ROOT"}
    env.update(PATH=path, PYTHONPATH=str(ROOT), **extra)
    return env


def run_task(args, env, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "srcnet_tui.core.task.runner", *map(str, args)]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def make_inputs(folder: Path, par_name: str = "sofia.par", par_text: str = "") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    par = folder / par_name
    par.write_text(par_text)
    cube = folder / "cube.fits"
    cube.write_bytes(b"SIMPLE  =                    T")
    return par, cube


def base_args(par, cube, out, filename="run_001"):
    return ["--par", par, "--data", cube, "--out", out, "--filename", filename, "--threads", "3",
            "--log", "sofia_profile.txt", "--interval", "0.2"]  # fmt: skip


def read_summary(out: Path) -> dict:
    return json.loads((out / "sofia_profile.txt.summary.json").read_text())


def test_success_runs_sofia_with_overrides_and_keeps_logs(tmp_path, fake_path):
    par, cube = make_inputs(tmp_path / "in")
    out = tmp_path / "arc" / "run" / "task-001"  # does not exist yet: the runner creates it
    result = run_task(base_args(par, cube, out), task_env(fake_path), tmp_path)
    assert result.returncode == 0, result.stderr
    argv = json.loads((out / "argv.json").read_text())["argv"]
    assert argv[1:] == [
        str(par), f"input.data={cube}", f"output.directory={out}", "output.filename=run_001",
        "pipeline.threads=3", "output.overwrite=true",
    ]  # fmt: skip
    assert (out / "run_001_cat.xml").exists()
    profile = (out / "sofia_profile.txt").read_text().splitlines()
    assert profile[0].startswith("elapsed_time,nproc,cpu,mem_real,mem_virtual")
    summary = read_summary(out)
    assert summary["finder"] == "sofia" and summary["finder_exit_code"] == 0 and summary["task_exit_code"] == 0
    assert "note" not in summary
    finder_log = (out / "run_001_sofia.log").read_text()
    assert "Pipeline started" in finder_log and "WARNING: a warning on stderr" in finder_log
    assert "Pipeline finished." in result.stdout  # the session log shows the finder too


def test_no_sources_is_a_result_not_a_failure(tmp_path, fake_path):
    par, cube = make_inputs(tmp_path / "in", par_text="fake.exit=8")
    out = tmp_path / "out"
    result = run_task(base_args(par, cube, out), task_env(fake_path), tmp_path)
    assert result.returncode == 0
    summary = read_summary(out)
    assert summary["finder_exit_code"] == 8 and summary["task_exit_code"] == 0
    assert summary["note"] == "no sources found"
    assert "exited with 8 (no sources found)" in result.stderr


def test_other_finder_failures_are_passed_on(tmp_path, fake_path):
    par, cube = make_inputs(tmp_path / "in", par_text="fake.exit=5")
    out = tmp_path / "out"
    result = run_task(base_args(par, cube, out), task_env(fake_path), tmp_path)
    assert result.returncode == 5
    assert read_summary(out)["task_exit_code"] == 5


def test_arc_paths_map_through_srcnet_arc_root_and_region_is_passed(tmp_path, fake_path):
    arc_root = tmp_path / "state" / "arc"
    make_inputs(arc_root / "projects" / "p" / "in")
    args = base_args("/arc/projects/p/in/sofia.par", "/arc/projects/p/in/cube.fits", "/arc/projects/p/run/task-002", "run_002")
    result = run_task([*args, "--region", "0,49,10,59,0,19"], task_env(fake_path, SRCNET_ARC_ROOT=str(arc_root)), tmp_path)
    assert result.returncode == 0, result.stderr
    out = arc_root / "projects" / "p" / "run" / "task-002"
    argv = json.loads((out / "argv.json").read_text())["argv"]
    assert argv[1] == str(arc_root / "projects" / "p" / "in" / "sofia.par")
    assert f"input.data={arc_root}/projects/p/in/cube.fits" in argv
    assert argv[-2:] == ["input.region=0,49,10,59,0,19", "parameter.offset=true"]
    assert not Path("/arc/projects/p").exists()


@pytest.mark.parametrize("par_name", ["a b;touch pwned.par", "$(touch x).par", "`touch y`.par", "q'uote\".par"])
def test_a_hostile_parameter_file_name_is_only_ever_an_argument(tmp_path, fake_path, par_name):
    """Even handed directly to srcnet-task (the plan refuses such names first), no shell ever parses it."""
    par, cube = make_inputs(tmp_path / "in", par_name=par_name)
    out = tmp_path / "out"
    result = run_task(base_args(par, cube, out), task_env(fake_path), tmp_path)
    assert result.returncode == 0, result.stderr
    argv = json.loads((out / "argv.json").read_text())["argv"]
    assert argv[1] == str(par)
    created = {p.name for p in tmp_path.rglob("*")}
    assert not {"pwned.par", "x", "y"} & created


def test_missing_finder_and_missing_input_are_clear(tmp_path):
    par, cube = make_inputs(tmp_path / "in")
    result = run_task(base_args(par, cube, tmp_path / "out"), task_env("/nonexistent"), tmp_path)
    assert result.returncode == 127 and "sofia: not found on PATH" in result.stderr
    result = run_task(base_args(par, tmp_path / "gone.fits", tmp_path / "out"), task_env("/nonexistent"), tmp_path)
    assert result.returncode == 2 and f"input {tmp_path}/gone.fits: no such file" in result.stderr


def test_sigterm_stops_the_finder_and_still_leaves_a_summary(tmp_path, fake_path):
    par, cube = make_inputs(tmp_path / "in", par_text="fake.sleep=30")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "srcnet_tui.core.task.runner", *map(str, base_args(par, cube, out))]
    process = subprocess.Popen(command, env=task_env(fake_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (out / "started").exists() or process.poll() is not None, 20, message="the fake finder to start")
        assert process.poll() is None, "the task runner ended before the finder started"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    summary = read_summary(out)
    assert summary["finder_exit_code"] == 128 + signal.SIGTERM and summary["wall_s"] < 25


def test_console_script_is_installed_beside_the_interpreter():
    script = Path(sys.executable).with_name("srcnet-task")
    assert script.exists(), "pip install -e . installs the srcnet-task console script"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--finder" in result.stdout
