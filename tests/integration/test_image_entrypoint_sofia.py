"""The task image's entry point runs the real SoFiA-2: image/entrypoint.sh → image/srcnet-task → sofia.

Laid out as in the image: the files the Dockerfile copies under a PYTHONPATH of their own, ``sofia``
and ``srcnet-task`` on PATH. Needs the real SoFiA-2 (built from ``../shared/tools``; skipped without).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

fits = pytest.importorskip("astropy.io.fits")

from tests.integration.test_split_merge_sofia import PARAMETERS, synthetic_cube  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def image_layout(tmp_path: Path, sofia: Path) -> dict[str, str]:
    """PATH and PYTHONPATH as the image has them: only core/task/ copied, beside sofia and srcnet-task."""
    package = tmp_path / "opt" / "srcnet" / "srcnet_tui" / "core"
    shutil.copytree(ROOT / "core" / "task", package / "task", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "core" / "__init__.py", package / "__init__.py")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in (sofia, ROOT / "image" / "srcnet-task"):
        (bin_dir / program.name).symlink_to(program)
    python_dir = Path(sys.executable).parent  # holds python3, as /usr/bin does in the image
    path = os.pathsep.join([str(bin_dir), str(python_dir), os.defpath])
    return {"PATH": path, "PYTHONPATH": str(tmp_path / "opt" / "srcnet"), "HOME": str(tmp_path)}


def entrypoint(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "image" / "entrypoint.sh"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_entrypoint_runs_srcnet_task_with_the_real_sofia(real_sofia, tmp_path):
    env = image_layout(tmp_path, real_sofia)
    described = entrypoint([], env, tmp_path)
    assert described.returncode == 0 and f"sofia {tmp_path / 'bin' / 'sofia'}" in described.stdout
    banner = entrypoint(["sofia"], env, tmp_path)  # no parameter file: SoFiA-2's banner, exit 7
    assert banner.returncode == 7 and "2.5.0" in banner.stdout + banner.stderr
    checked = subprocess.run(
        ["bash", str(ROOT / "image" / "check-finder.sh"), "sofia", "2.5.0"], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr  # the image build's own check passes on the real build

    synthetic_cube(tmp_path / "cube.fits")
    (tmp_path / "sofia.par").write_text(PARAMETERS)
    args = ["--par", "sofia.par", "--data", "cube.fits", "--out", "out", "--filename", "t1", "--region", "0,89,0,84,0,31",
            "--interval", "0.2"]  # fmt: skip
    task = entrypoint(args, env, tmp_path)
    assert task.returncode == 0, task.stderr[-2000:]
    out = tmp_path / "out"
    assert (out / "t1_cat.xml").is_file() and (out / "sofia_profile.txt").is_file()
    assert any("Pipeline finished" in log.read_text() for log in out.glob("*.log"))  # the finder's own log
