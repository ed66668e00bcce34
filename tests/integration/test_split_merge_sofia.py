"""A split run with the real SoFiA-2 reproduces the whole-cube catalogue, sources wider than the overlap included.

SoFiA-2 runs directly on each ``input.region`` of the grid the planner cuts (``parameter.offset``
on, as ``srcnet-task`` sets it), and the merge combines the regions' catalogues; no sessions.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest

fits = pytest.importorskip("astropy.io.fits")

from srcnet_tui.core.runs.merge import TaskCatalogue, merge_catalogues, read_catalogue, write_merged  # noqa: E402
from srcnet_tui.core.runs.split import grid_regions  # noqa: E402

SHAPE = (160, 150, 32)  # x, y, z
OVERLAP = (20, 20)
# x, y, z, spatial sigma, spectral sigma, peak (noise is 1): the first spans ~80 px, four times the overlap
# and across the crossing of all four regions; the others sit inside one region or in an overlap strip.
SOURCES = [(80, 75, 16, 16.0, 4.0, 3.0), (25, 30, 10, 2.0, 2.0, 3.0), (130, 30, 20, 2.0, 2.0, 3.0),
           (30, 120, 12, 2.0, 2.0, 3.0), (135, 125, 22, 2.0, 2.0, 3.0), (82, 20, 8, 2.5, 2.0, 3.0)]  # fmt: skip
PARAMETERS = """\
pipeline.verbose = false
pipeline.threads = 1
input.data = cube.fits
scfind.enable = true
scfind.kernelsXY = 0, 3, 6
scfind.kernelsZ = 0, 3, 7
scfind.threshold = 5.0
scfind.statistic = mad
linker.radiusXY = 2
linker.radiusZ = 2
linker.minSizeXY = 5
linker.minSizeZ = 3
reliability.enable = false
parameter.enable = true
parameter.wcs = false
parameter.offset = true
output.directory = .
output.writeCatASCII = false
output.writeCatXML = true
output.writeMask = false
output.writeMask2d = false
output.writeMoments = false
output.overwrite = true
"""


def synthetic_cube(path: Path) -> None:
    rng = np.random.default_rng(5)
    nx, ny, nz = SHAPE
    cube = rng.normal(0, 1, (nz, ny, nx)).astype(np.float32)
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
    for sx, sy, sz, sigma_xy, sigma_z, peak in SOURCES:
        cube += peak * np.exp(-(((x - sx) ** 2 + (y - sy) ** 2) / (2 * sigma_xy**2) + (z - sz) ** 2 / (2 * sigma_z**2)))
    fits.PrimaryHDU(cube).writeto(path)


def sofia(binary: Path, folder: Path, name: str, *overrides: str) -> Path:
    run = subprocess.run(
        [str(binary), "sofia.par", f"output.filename={name}", *overrides], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout[-2000:]
    return folder / f"{name}_cat.xml"


def test_split_run_merges_to_the_whole_cube_catalogue(real_sofia, tmp_path):
    synthetic_cube(tmp_path / "cube.fits")
    (tmp_path / "sofia.par").write_text(PARAMETERS)
    _, whole = read_catalogue(sofia(real_sofia, tmp_path, "whole"))
    assert len(whole) == len(SOURCES)  # the cube is clean: every source found, nothing else
    regions = grid_regions(SHAPE, (2, 2, 1), OVERLAP)
    catalogues = [
        TaskCatalogue(task, region, sofia(real_sofia, tmp_path, f"region{task}", f"input.region={region}"))
        for task, region in enumerate(regions, start=1)
    ]
    result = merge_catalogues(catalogues, SHAPE)

    matched = []
    for source in whole:
        near = [row for row in result.rows if max(abs(row[k] - source[k]) for k in "xyz") <= 2.0]
        assert len(near) == 1, (source, result.rows)  # none missing, none twice
        matched.append(near[0]["id"])
    assert sorted(matched) == [row["id"] for row in result.rows] == list(range(1, len(SOURCES) + 1))
    wide = next(row for row in result.rows if abs(row["x"] - 80) < 3 and abs(row["y"] - 75) < 3)
    assert wide["merge_flag"] == "cut" and wide["x_max"] - wide["x_min"] > 2 * OVERLAP[0]
    assert result.flagged_at_edges == 1 and result.stitched == 3  # the wide source's other three pieces
    assert b"\r" not in write_merged(result, tmp_path / "merged.csv").read_bytes()
