"""verify and clean end to end: a real run on a real local server, its products on the local /arc."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runs_workspace import start_workspace, write_cube

from srcnet_tui.core.runs.manifest import finder_version


@pytest.fixture
def finished_run(tmp_path, state_dir, test_env, local_server_factory, cli):
    """A finished one-task run: (run id, its results folder, its folder on the local /arc)."""
    config, _ = start_workspace(tmp_path, state_dir, test_env, local_server_factory)
    proc = cli("run", config, "--json", timeout=90)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    return run["id"], Path(run["local_dir"]), state_dir / "arc" / run["remote_dir"].removeprefix("/arc/")


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_run_json_records_md5_and_sha256_of_every_staged_and_collected_file(finished_run):
    run_id, results, _ = finished_run
    manifest = json.loads((results / "run.json").read_text())
    staged = {Path(c["path"]).name: c for c in manifest["checksums"]}
    assert set(staged) == {"sofia.par", "sofia_test_datacube.fits"}
    collected = {Path(c["path"]).name: c for c in manifest["products"]}
    assert {f"{run_id}_001_cat.txt", f"{run_id}_001_sofia.log", "sofia_profile.txt"} <= set(collected)
    for entry in [*staged.values(), *collected.values()]:
        assert len(entry["md5"]) == 32 and len(entry["sha256"]) == 64 and entry["size"] > 0
    assert manifest["software"]["srcnet-tui"] and manifest["image"]
    assert "scfind.threshold" in next(iter(manifest["parameters"].values()))


def test_verify_passes_then_finds_one_flipped_byte(finished_run, cli):
    run_id, results, remote = finished_run
    ok = cli("verify", run_id)
    assert ok.returncode == 0, ok.stderr
    assert "0 mismatched" in ok.stderr

    _flip_a_byte(results / f"{run_id}_001_cat.txt")
    _flip_a_byte(remote / "params" / "sofia.par")
    bad = cli("verify", run_id, "--json")
    assert bad.returncode == 1
    mismatches = json.loads(bad.stdout)["mismatches"]
    assert len(mismatches) == 2, mismatches
    assert any(f"{run_id}_001_cat.txt" in line and "md5" in line for line in mismatches)
    assert any("sofia.par" in line and line.startswith("staged input") for line in mismatches)


def _sofia_products(task_dir: Path, prefix: str) -> dict[str, int]:
    """What SoFiA-2 writes beside its catalogue (sizes chosen to exercise du's rounding)."""
    sizes = {
        f"{prefix}_mask.fits": 1536,
        f"{prefix}_filtered.fits": 10241,
        f"{prefix}_noise.fits": 2_000_001,
        f"{prefix}_mom0.fits": 2047,
        f"{prefix}_cubelets/{prefix}_1_cube.fits": 700,
        f"{prefix}_cubelets/{prefix}_1_mask.fits": 1025,
    }
    for name, size in sizes.items():
        (task_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (task_dir / name).write_bytes(b"\x07" * size)
    return sizes


def _du(paths: list[Path]) -> dict[str, str]:
    out = subprocess.run(["du", "-hsc", "--apparent-size", *map(str, paths)], capture_output=True, text=True, check=True)
    return {name: size for size, name in (line.split("\t") for line in out.stdout.splitlines())}


def _answering(answer: str, env: dict, cwd: Path, *args) -> subprocess.CompletedProcess:
    """The CLI with a terminal for stdin, typed ``answer`` at its prompt."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, f"{answer}\n".encode())
        command = [sys.executable, "-m", "srcnet_tui.core.cli", *map(str, args)]
        return subprocess.run(command, stdin=terminal, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)


def test_clean_previews_like_du_asks_first_refuses_over_a_damaged_copy_and_records_removals(
    finished_run, cli, test_env, tmp_path
):
    run_id, results, remote = finished_run
    prefix = f"{run_id}_001"
    temporary = _sofia_products(remote / "task-001", prefix)

    preview = cli("clean", run_id, "--dry-run", "--json")
    assert preview.returncode == 0, preview.stderr
    listed = json.loads(preview.stdout)
    products = {p["path"].removeprefix("/arc/"): p for p in listed["products"]}
    local = {_local(remote, p): p for p in products}
    du = _du(list(local))
    assert {str(f): products[p]["human"] for f, p in local.items()} == {k: v for k, v in du.items() if k != "total"}
    assert listed["totals"]["total"]["human"] == du["total"]
    actions = {Path(p).name: products[p]["action"] for p in products}
    assert actions[f"{prefix}_cat.txt"] == actions[f"{prefix}_mom0.fits"] == actions["run.json"] == "keep"
    assert actions["sofia.par"] == actions[f"{prefix}_sofia.log"] == actions["sofia_profile.txt.summary.json"] == "keep"
    removable = {Path(name).name for name in temporary if not name.endswith("mom0.fits")}
    assert {name for name, action in actions.items() if action == "remove"} == removable

    refused = cli("clean", run_id)  # stdin is not a terminal and there is no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 2  # the backend notice, then one line
    assert (remote / "task-001" / f"{prefix}_mask.fits").exists()

    declined = _answering("n", test_env, tmp_path, "clean", run_id)  # at a terminal it asks
    assert declined.returncode == 0 and "? [y/N]" in declined.stderr and "nothing removed" in declined.stderr
    assert all((remote / "task-001" / name).exists() for name in temporary)

    catalogue = remote / "task-001" / f"{prefix}_cat.txt"
    original = catalogue.read_bytes()
    _flip_a_byte(catalogue)
    blocked = cli("clean", run_id, "--yes")
    assert blocked.returncode == 1 and "nothing removed" in blocked.stderr and catalogue.name in blocked.stderr
    assert all((remote / "task-001" / name).exists() for name in temporary)

    catalogue.write_bytes(original)
    done = cli("clean", run_id, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert not any((remote / "task-001" / name).exists() for name in temporary if "mom0" not in name)
    assert not (remote / "task-001" / f"{prefix}_cubelets").exists()
    assert catalogue.exists() and (remote / "task-001" / f"{prefix}_mom0.fits").exists()
    manifest = json.loads((results / "run.json").read_text())
    removed = {Path(e["path"]).name: e for e in manifest["removed"]}
    assert set(removed) == removable
    assert all(len(e["md5"]) == 32 and e["size"] and e["time"].endswith("Z") for e in removed.values())
    assert json.loads((remote / "run.json").read_text())["removed"] == manifest["removed"]
    assert cli("verify", run_id).returncode == 0


def _local(remote: Path, arc_path: str) -> Path:
    """The local /arc file of a product listed as ``projects/...`` (its /arc path without the prefix)."""
    arc_root = next(p for p in remote.parents if p.name == "arc")
    return arc_root / arc_path


def _start_keep(test_env, tmp_path, *args) -> subprocess.Popen:
    command = [sys.executable, "-m", "srcnet_tui.core.cli", "keep", *map(str, args)]
    return subprocess.Popen(command, cwd=tmp_path, env=test_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_keep_killed_mid_copy_finishes_when_run_again_with_every_copy_verified(finished_run, cli, test_env, tmp_path):
    run_id, results, remote = finished_run
    frames = remote / "task-001" / "frames"
    frames.mkdir()
    for number in range(40):
        (frames / f"frame_{number:02d}.dat").write_bytes(bytes([number]) * (1 << 20))
    archive = tmp_path / "archive"

    first = _start_keep(test_env, tmp_path, run_id, "--to", archive, "--parallel", "1")
    while not first.stderr.readline().startswith("kept 1/"):
        assert first.poll() is None, first.stderr.read()
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    copied = archive / run_id / "task-001" / "frames"
    assert len(list(copied.glob("frame_*.dat"))) < 40, "killed mid-copy"

    again = cli("keep", run_id, "--to", archive, "--json")
    assert again.returncode == 0, again.stderr
    kept = {Path(e["path"]).relative_to(archive / run_id).as_posix(): e for e in json.loads(again.stdout)["kept"]}
    on_storage = {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file() and p.name != "run.json"}
    assert set(kept) == on_storage
    for relative, entry in kept.items():
        data = (archive / run_id / relative).read_bytes()
        assert data == (remote / relative).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["source"].endswith(relative)
    assert not list(archive.rglob(".*.part-*"))
    assert json.loads((archive / run_id / "run.json").read_text())["kept"]
    assert cli("verify", run_id).returncode == 0

    _flip_a_byte(copied / "frame_07.dat")
    damaged = cli("verify", run_id)
    assert damaged.returncode == 1 and "kept copy" in damaged.stdout and "frame_07.dat" in damaged.stdout
    mask = remote / "task-001" / f"{run_id}_001_mask.fits"
    mask.write_bytes(b"m" * 100)
    blocked = cli("clean", run_id, "--yes")
    assert blocked.returncode == 1 and "frame_07.dat" in blocked.stderr and "nothing removed" in blocked.stderr
    assert mask.exists()


def test_keep_move_to_arc_removes_sources_only_after_verified_copies(finished_run, cli, state_dir):
    run_id, results, remote = finished_run
    catalogue = remote / "task-001" / f"{run_id}_001_cat.txt"
    original = catalogue.read_bytes()
    _flip_a_byte(catalogue)
    refused = cli("keep", run_id, "--to", "/arc/projects/longterm", "--move")
    assert refused.returncode == 1 and f"{catalogue.name} differs from its collected copy" in refused.stderr
    assert catalogue.exists()  # a source whose copy is not verified stays

    catalogue.write_bytes(original)
    moved = cli("keep", run_id, "--to", "/arc/projects/longterm", "--move")
    assert moved.returncode == 0, moved.stderr
    copy = state_dir / "arc" / "projects" / "longterm" / run_id / "task-001" / catalogue.name
    assert copy.read_bytes() == original and not catalogue.exists()
    assert (remote / "run.json").exists()  # the manifest stays with the run
    assert cli("verify", run_id).returncode == 0


def test_rerun_gives_the_same_catalogue_and_refuses_once_an_input_changed(finished_run, cli, tmp_path):
    run_id, results, _ = finished_run
    again = cli("rerun", results / "run.json", "--json", timeout=90)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["id"] != run_id
    first_catalogue = (results / f"{run_id}_001_cat.txt").read_text()
    assert (Path(second["local_dir"]) / f"{second['id']}_001_cat.txt").read_text() == first_catalogue

    cube = tmp_path / "work" / "sofia_test_datacube.fits"
    write_cube(cube, seed=2)
    refused = cli("rerun", run_id)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(f"error: rerun {run_id}: input {cube} changed since the run")
    assert len(json.loads(cli("runs", "--json").stdout)) == 2  # nothing new was recorded


def test_run_json_names_the_finder_version_real_sofia_reports(real_sofia, tmp_path):
    log = tmp_path / "sofia.log"
    with log.open("w") as handle:  # without a parameter file SoFiA-2 prints its banner, then exits 7
        subprocess.run([str(real_sofia)], stdout=handle, stderr=subprocess.STDOUT, timeout=30)
    assert finder_version([log]) == "2.5.0 (24-Jun-2022)"
