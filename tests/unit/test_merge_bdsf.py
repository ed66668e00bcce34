"""End to end with a real finder: plan a split run, run each task with srcnet-task + PyBDSF, merge."""

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bdsf", reason="PyBDSF (the examples extra) is not installed")
fits = pytest.importorskip("astropy.io.fits")

from srcnet_tui.core.errors import UsageError  # noqa: E402
from srcnet_tui.core.runs.config import load_run_config  # noqa: E402
from srcnet_tui.core.runs.merge import merge_split_run  # noqa: E402
from srcnet_tui.core.runs.plan import plan_run  # noqa: E402
from srcnet_tui.core.runs.spec import RunPlan, TaskSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [(30, 40), (100, 100), (98, 150), (160, 60), (170, 170), (50, 180), (104, 20)]


def synthetic_image(path: Path, size: int = 200) -> None:
    """Gaussian point sources (beam 4 px FWHM) in noise, with a celestial WCS and a beam."""
    rng = np.random.default_rng(1)
    image = rng.normal(0, 1e-4, (size, size)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    sigma = 4 / 2.3548
    for x, y in SOURCES:
        image += 5e-3 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    header = fits.Header()
    for axis, (ctype, crval, cdelt) in enumerate([("RA---SIN", 150.0, -2 / 3600), ("DEC--SIN", 2.0, 2 / 3600)], 1):
        header.update(
            {f"CTYPE{axis}": ctype, f"CRVAL{axis}": crval, f"CRPIX{axis}": size / 2, f"CDELT{axis}": cdelt, f"CUNIT{axis}": "deg"}
        )
    header.update(BMAJ=8 / 3600, BMIN=8 / 3600, BPA=0.0, BUNIT="JY/BEAM")
    fits.PrimaryHDU(image, header=header).writeto(path)


def test_split_bdsf_run_merges_to_one_row_per_source(tmp_path):
    synthetic_image(tmp_path / "sky.fits")
    (tmp_path / "bdsf.par").write_text("# PyBDSF options\nthresh_isl = 3.0\nthresh_pix = 5.0\nfrequency = 1.4e9\n")
    (tmp_path / "run.ini").write_text(
        "[sofia-parallel]\nvos_dir = /arc/projects/demo/bdsf\nimage_file = sky.fits\nparameter_file = bdsf.par\n"
        "finder = bdsf\nsplit = 2,1,1\noverlap = 20\ncores = 1\ninterval = 0.2\n"
    )
    plan = plan_run(load_run_config(tmp_path / "run.ini", kind="parallel"), "demo-1")
    assert [str(t.region) for t in plan.tasks] == ["0,109,0,199,0,0", "90,199,0,199,0,0"]

    arc_root = tmp_path / "arc"
    for upload in plan.uploads:  # what staging does on the local backend
        target = arc_root / upload.remote.removeprefix("/arc/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(upload.local, target)
    env = {**os.environ, "SRCNET_ARC_ROOT": str(arc_root), "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    for task in plan.tasks:
        command = [sys.executable, "-m", "srcnet_tui.core.task.runner", *task.args]
        result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]

    def folder_of(task: TaskSpec) -> Path:
        return arc_root / task.outputs.directory.removeprefix("/arc/")

    for task in plan.tasks:
        assert (folder_of(task) / task.outputs.profile_log).exists()
        assert (folder_of(task) / task.outputs.finder_log).exists()
    recorded = RunPlan.from_dict(json.loads(json.dumps(plan.recorded().to_dict())))  # as the ledger keeps it
    result = merge_split_run(recorded, plan.tasks, folder_of, tmp_path / "merged.csv")
    with (tmp_path / "merged.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(SOURCES), result.to_dict()
    found = sorted((round(float(r["x"])), round(float(r["y"]))) for r in rows)
    assert found == sorted(SOURCES)
    assert result.dropped_duplicates >= 2  # (100, 100) and (98, 150) lie in the 90..109 overlap
    assert result.missing == []
    with pytest.raises(UsageError, match="is not a split run"):
        merge_split_run(replace(recorded, kind="parallel"), plan.tasks, folder_of, tmp_path / "no.csv")
