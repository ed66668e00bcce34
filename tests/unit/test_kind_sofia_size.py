"""Size before launch: SoFiA-2's products from the outputs its parameter file enables and each region's size,
and a run refused, with the numbers, when its estimate exceeds ``max_output_gb`` or the storage's free space."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import check_run_config
from srcnet_tui.core.runs.fits import CubeShape
from srcnet_tui.core.runs.plan import plan_run
from srcnet_tui.core.runs.preflight import refuse_oversized
from srcnet_tui.core.runs.storage import LocalArc
from srcnet_tui.core.skaha_rules import GIB

CUBE = CubeShape(nx=2000, ny=2000, nz=1000, bitpix=-32)


def _plan(tmp_path, **values):
    shutil.copy(FIXTURES / "seed" / "sofia.par", tmp_path / "sofia.par")  # writeMask, writeMask2d, writeMoments
    (tmp_path / "cube.fits").write_bytes(b"")
    settings = {"vos_dir": "/arc/p", "image_file": "cube.fits", "parameter_file": "sofia.par", "split": "2,2,1", "overlap": "0"}
    config = check_run_config(tmp_path / "c.ini", "s", "parallel", {**settings, **values})
    return plan_run(config, "r1", read_header=lambda _path: CUBE)


def test_the_estimate_counts_the_outputs_the_parameter_file_enables_for_each_region(tmp_path):
    plan = _plan(tmp_path)
    region_voxels, region_pixels = 1000 * 1000 * 1000, 1000 * 1000
    per_task = region_voxels * 4 + region_pixels * 4 + region_pixels * 16  # mask, mask-2d, 3 moments + channel map
    assert plan.estimate is not None and plan.estimate.per_task == (per_task,) * 4
    assert "mask, mask2d, moments" in plan.estimate.basis
    assert "  estimated products: 15 GiB in all, at most 3.74 GiB a task (SoFiA-2 outputs" in "\n".join(plan.describe())


def test_a_run_above_max_output_gb_is_refused_with_the_numbers(tmp_path):
    plan = _plan(tmp_path, max_output_gb="10")
    with pytest.raises(UsageError) as caught:
        refuse_oversized(plan, LocalArc(tmp_path))
    assert str(caught.value).startswith("c.ini [s] max_output_gb: the run would write about 15 GiB") and "above 10 GiB" in str(
        caught.value
    )


def test_a_run_larger_than_the_free_space_is_refused_with_the_numbers(tmp_path):
    plan = _plan(tmp_path)
    free = shutil.disk_usage(tmp_path).free
    if free > plan.estimate.total_bytes:
        big = CubeShape(nx=2000, ny=2000, nz=int(free / GIB * 300), bitpix=-32)
        plan = plan_run(plan.config, "r1", read_header=lambda _path: big)
    with pytest.raises(UsageError, match=r"\[s\] vos_dir: the run would write about .* GiB, but /arc/p has .* GiB free"):
        refuse_oversized(plan, LocalArc(tmp_path))
