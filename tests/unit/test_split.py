"""Split grids: they cover the cube, neighbours overlap exactly as asked, nothing leaves the cube."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.split import (
    GIB,
    Region,
    axis_ranges,
    counts_for_max_bytes,
    counts_for_region_size,
    grid_regions,
    largest_region_for_ram,
    max_count,
    ram_needed_gb,
    ram_request_gb,
    region_bytes,
)

lengths = st.integers(min_value=1, max_value=5000)
overlaps = st.integers(min_value=0, max_value=300)


@st.composite
def axis_cases(draw):
    length = draw(lengths)
    overlap = draw(overlaps)
    count = draw(st.integers(min_value=1, max_value=min(40, max_count(length, overlap))))
    return length, count, overlap


@settings(max_examples=400, deadline=None)
@given(axis_cases())
def test_axis_ranges_cover_overlap_exactly_and_stay_inside(case):
    length, count, overlap = case
    ranges = axis_ranges(length, count, overlap)
    assert len(ranges) == count
    assert ranges[0][0] == 0 and ranges[-1][1] == length - 1
    for lo, hi in ranges:
        assert 0 <= lo <= hi <= length - 1
    for (lo1, hi1), (lo2, hi2) in zip(ranges, ranges[1:]):
        assert lo1 < lo2 and hi1 < hi2
        assert hi1 - lo2 + 1 == overlap  # neighbours share exactly `overlap` pixels: no gap, no more
    sizes = [hi - lo + 1 for lo, hi in ranges]
    assert max(sizes) - min(sizes) < count  # equal sizes, the last one taking the remainder


@st.composite
def impossible_axis_cases(draw):
    length = draw(st.integers(min_value=1, max_value=400))
    overlap = draw(overlaps)
    count = draw(st.integers(min_value=max(2, max_count(length, overlap) + 1), max_value=max_count(length, overlap) + 50))
    return length, count, overlap


@settings(max_examples=200, deadline=None)
@given(impossible_axis_cases())
def test_axis_split_that_cannot_work_is_refused_with_the_numbers(case):
    length, count, overlap = case
    with pytest.raises(UsageError, match=f"cannot cut {length} pixels into {count} regions"):
        axis_ranges(length, count, overlap)


shapes = st.tuples(st.integers(1, 400), st.integers(1, 400), st.integers(1, 400))


@st.composite
def grid_cases(draw):
    shape = draw(shapes)
    spatial, spectral = draw(st.integers(0, 30)), draw(st.integers(0, 30))
    counts = tuple(draw(st.integers(1, min(6, max_count(length, o)))) for length, o in zip(shape, (spatial, spatial, spectral)))
    return shape, counts, (spatial, spectral)


@settings(max_examples=300, deadline=None)
@given(grid_cases())
def test_grid_covers_every_voxel_and_is_clipped(case):
    shape, counts, overlap = case
    regions = grid_regions(shape, counts, overlap)
    assert len(regions) == math.prod(counts)
    assert len(set(regions)) == len(regions)
    for region in regions:
        for axis in range(3):
            lo, hi = region.axis(axis)
            assert 0 <= lo <= hi < shape[axis]
    # Coverage: every voxel of a sample lattice (corners included) lies in some region.
    probes = [sorted({0, n - 1, n // 2, n // 3, (2 * n) // 3}) for n in shape]
    for x in probes[0]:
        for y in probes[1]:
            for z in probes[2]:
                assert any(r.x_min <= x <= r.x_max and r.y_min <= y <= r.y_max and r.z_min <= z <= r.z_max for r in regions)
    # Coverage exactly: the covered volume counted once equals the cube (inclusion by axis, as it is a product grid).
    for axis, count in enumerate(counts):
        covered = set()
        for region in regions:
            lo, hi = region.axis(axis)
            covered.update(range(lo, hi + 1))
        assert covered == set(range(shape[axis]))


def test_grid_order_is_x_fastest_like_s2p_setup():
    regions = grid_regions((100, 100, 50), (2, 2, 2), (10, 5))
    assert [str(r) for r in regions[:3]] == ["0,54,0,54,0,26", "45,99,0,54,0,26", "0,54,45,99,0,26"]
    assert str(regions[-1]) == "45,99,45,99,22,49"


def test_sdc2_grid_is_reproduced():
    """Team SoFiA's SDC2 spatial tiles: starts 0/1446/2892/4338, ends 1510/2956/4402/5850 (65 px overlap)."""
    ranges = axis_ranges(5851, 4, 65)
    assert [lo for lo, _ in ranges] == [0, 1446, 2892, 4338]
    assert [hi for _, hi in ranges] == [1510, 2956, 4402, 5850]
    assert [lo for lo, _ in axis_ranges(6668, 5, 65)] == [0, 1320, 2640, 3960, 5280]


@settings(max_examples=200, deadline=None)
@given(shapes, st.sampled_from([1, 2, 4, 8]), st.integers(0, 20), st.integers(0, 20), st.floats(0.02, 1.0))
def test_auto_grid_regions_fit_the_byte_limit(shape, word, spatial, spectral, fraction):
    max_bytes = max(1.0, math.prod(shape) * word * fraction)
    try:
        counts = counts_for_max_bytes(shape, word, (spatial, spectral), max_bytes)
    except UsageError as exc:
        assert "no grid cuts" in str(exc)
        return
    regions = grid_regions(shape, counts, (spatial, spectral))
    assert max(region_bytes(r, word) for r in regions) <= max_bytes


def test_auto_grid_is_one_region_when_the_cube_fits():
    assert counts_for_max_bytes((50, 60, 40), 4, (65, 65), 12 * GIB) == (1, 1, 1)


def test_region_size_gives_s2p_counts():
    assert counts_for_region_size((5851, 5851, 6668), (1500, 1500, 1400)) == (4, 4, 5)


def test_ram_is_rounded_up_to_an_offered_value():
    nbytes = 4 * GIB  # needs 2.3 * 4 + 1 = 10.2 GiB
    assert ram_needed_gb(nbytes) == pytest.approx(10.2)
    assert ram_request_gb(nbytes, [1, 2, 4, 8, 16, 32]) == 16
    assert ram_request_gb(nbytes, [32, 12, 11]) == 11
    assert ram_request_gb(nbytes) == 11


def test_ram_refused_with_the_numbers_when_nothing_offered_is_large_enough():
    with pytest.raises(UsageError) as caught:
        ram_request_gb(20 * GIB, [1, 2, 4, 8, 16, 32])
    assert str(caught.value) == (
        "a region of 20.00 GiB needs about 47.0 GiB of RAM (2.3 × region + 1 GiB), "
        "but the platform offers at most 32 GiB; split the cube into smaller regions"
    )


def test_largest_region_for_ram_inverts_the_need():
    assert ram_needed_gb(largest_region_for_ram(27)) == pytest.approx(27)


def test_region_text_round_trips_and_bad_text_is_refused():
    region = Region(0, 9, 5, 14, 2, 3)
    assert str(region) == "0,9,5,14,2,3" and Region.parse(str(region)) == region
    assert region.shape == (10, 10, 2) and region.voxels() == 200
    for bad in ("1,2,3", "5,4,0,1,0,1", "a,b,c,d,e,f", "-1,2,0,1,0,1"):
        with pytest.raises(ValueError):
            Region.parse(bad)
