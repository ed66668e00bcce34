"""Two runs sharing vos_dir and image_file: one never changes the staged input of the other while it runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from runs_workspace import start_workspace, write_cube


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_second_run_refuses_to_overwrite_the_input_of_a_run_still_going(
    tmp_path, state_dir, test_env, local_server_factory, cli
):
    config, _ = start_workspace(tmp_path, state_dir, test_env, local_server_factory)
    cube = config.parent / "sofia_test_datacube.fits"
    first = cli("run", config, "--no-wait", "--json", timeout=90)
    assert first.returncode == 0, first.stderr
    run_a = json.loads(first.stdout)
    staged = state_dir / "arc" / run_a["remote_dir"].removeprefix("/arc/") / ".." / cube.name
    read_by_a = _md5(staged)

    write_cube(cube, seed=2)  # the user changes the cube while run A has not finished
    second = cli("run", config, timeout=90)
    assert second.returncode == 2
    assert f"run {run_a['id']} has not finished and reads it" in second.stderr
    assert _md5(staged) == read_by_a

    finished = cli("resume", run_a["id"], timeout=90)
    assert finished.returncode == 0, finished.stderr
    manifest = json.loads((Path(run_a["local_dir"]) / "run.json").read_text())
    recorded = next(c for c in manifest["checksums"] if c["path"].endswith(cube.name))
    assert recorded["md5"] == read_by_a != _md5(cube)
    assert cli("verify", run_a["id"]).returncode == 0

    third = cli("run", config, timeout=90)  # run A has finished: its input may change now
    assert third.returncode == 0, third.stderr
    assert _md5(staged) == _md5(cube)
    assert cli("verify", run_a["id"]).returncode == 1  # and verify says that A's input is not what A read
