"""Cut a cube into overlapping sub-regions for a split run, and size each task's RAM.

SoFiA-2 loads only ``input.region`` (``x_min,x_max,y_min,y_max,z_min,z_max``: 0-based, inclusive)
and needs about 2.3 × the bytes of what it loads (workloads.md §4.3). So a cube too large for one
session is cut into a grid the way s2p_setup does it: per axis ``n`` regions of equal size that
share exactly ``overlap`` pixels with their neighbours, the last one running to the axis end.
Together they cover the cube; neighbours overlap as asked; nothing reaches outside the cube.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.skaha_rules import GIB

RAM_FACTOR = 2.3
"""SoFiA-2 needs about 2.3 × the bytes of the region it loads (SoFiA-2 README; SDC2: 27 GB for 11.8 GB)."""

RAM_MARGIN_GB = 1.0
"""Room above SoFiA's own arrays for the recorder, the interpreter, libraries and catalogue output."""


@dataclass(frozen=True, order=True)
class Region:
    """A box of voxels, bounds inclusive and 0-based, in SoFiA-2's order."""

    x_min: int
    x_max: int
    y_min: int
    y_max: int
    z_min: int
    z_max: int

    def __str__(self) -> str:
        """SoFiA-2's ``input.region`` value."""
        return ",".join(map(str, self.bounds))

    @property
    def bounds(self) -> tuple[int, int, int, int, int, int]:
        return (self.x_min, self.x_max, self.y_min, self.y_max, self.z_min, self.z_max)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.x_max - self.x_min + 1, self.y_max - self.y_min + 1, self.z_max - self.z_min + 1)

    def axis(self, number: int) -> tuple[int, int]:
        """(min, max) along axis 0 (x), 1 (y) or 2 (z)."""
        bounds = self.bounds
        return bounds[2 * number], bounds[2 * number + 1]

    def voxels(self) -> int:
        return math.prod(self.shape)

    @classmethod
    def parse(cls, text: str) -> Region:
        """Read ``x_min,x_max,y_min,y_max,z_min,z_max``; ValueError when it is not six ordered integers."""
        values = [int(part) for part in text.split(",")]
        if len(values) != 6 or any(values[i] > values[i + 1] for i in (0, 2, 4)) or min(values) < 0:
            raise ValueError(f"not a region x_min,x_max,y_min,y_max,z_min,z_max: {text!r}")
        return cls(*values)


def axis_ranges(length: int, count: int, overlap: int) -> list[tuple[int, int]]:
    """``count`` inclusive ranges covering ``0..length-1``, neighbours sharing ``overlap`` pixels.

    s2p_setup's rule: size = floor((length + (count-1)·overlap) / count), start_i = i·(size − overlap),
    the last range runs to the end of the axis.
    """
    if count < 1 or length < 1 or overlap < 0:
        raise ValueError(f"bad axis split: length={length} count={count} overlap={overlap}")
    if count == 1:
        return [(0, length - 1)]
    size = (length + (count - 1) * overlap) // count
    if size <= overlap:
        raise UsageError(
            f"cannot cut {length} pixels into {count} regions overlapping by {overlap} pixels "
            f"(each would be {size} pixels, not more than the overlap); use fewer regions or less overlap"
        )
    step = size - overlap
    ranges = [(i * step, i * step + size - 1) for i in range(count - 1)]
    ranges.append(((count - 1) * step, length - 1))
    return ranges


def max_count(length: int, overlap: int) -> int:
    """The most regions an axis of ``length`` pixels can be cut into with ``overlap``."""
    if overlap >= length:
        return 1
    return length - overlap


AXES = ("x", "y", "z")


def grid_regions(shape: tuple[int, int, int], counts: tuple[int, int, int], overlap: tuple[int, int]) -> list[Region]:
    """All regions of a grid, in s2p_setup's order (x fastest, then y, then z); UsageError naming the axis that cannot be cut."""
    spatial, spectral = overlap
    ranges = []
    for axis, length, count, shared in zip(AXES, shape, counts, (spatial, spatial, spectral)):
        try:
            ranges.append(axis_ranges(length, count, shared))
        except UsageError as exc:
            raise UsageError(f"the {axis} axis: {exc}") from None
    xs, ys, zs = ranges
    return [Region(*x, *y, *z) for z in zs for y in ys for x in xs]


def too_many_regions(shape: tuple[int, int, int], counts: tuple[int, int, int]) -> bool:
    """More regions along some axis than it has pixels: the grid is at fault, not the overlap."""
    return any(count > length for length, count in zip(shape, counts))


def counts_for_region_size(shape: tuple[int, int, int], size: tuple[int, int, int]) -> tuple[int, int, int]:
    """Regions per axis so that no region's core is larger than ``size`` pixels (s2p's subcube_shape)."""
    nx, ny, nz = (max(1, math.ceil(length / edge)) for length, edge in zip(shape, size, strict=True))
    return nx, ny, nz


def counts_for_max_bytes(
    shape: tuple[int, int, int], bytes_per_voxel: int, overlap: tuple[int, int], max_bytes: float
) -> tuple[int, int, int]:
    """The coarsest grid whose largest region (overlap included) holds at most ``max_bytes``.

    Starts from s2p_setup's nominal cube edge (cube root of the allowed voxels) and then cuts the
    axis along which the largest region is longest until the regions fit. UsageError if even the
    finest possible grid does not.
    """
    edge = max(1, int((max_bytes / bytes_per_voxel) ** (1 / 3)))
    overlaps = (overlap[0], overlap[0], overlap[1])
    limits = [max_count(length, o) for length, o in zip(shape, overlaps)]
    counts = [min(limit, max(1, math.ceil(length / edge))) for length, limit in zip(shape, limits)]
    while True:
        extents = [_largest_extent(length, c, o) for length, c, o in zip(shape, counts, overlaps)]
        if math.prod(extents) * bytes_per_voxel <= max_bytes:
            return counts[0], counts[1], counts[2]
        cuttable = [axis for axis in range(3) if counts[axis] < limits[axis]]
        if not cuttable:
            raise UsageError(
                f"no grid cuts a {shape[0]}x{shape[1]}x{shape[2]} cube into regions of at most "
                f"{max_bytes / GIB:.2f} GiB with an overlap of {overlap[0]},{overlap[1]}"
            )
        axis = max(cuttable, key=lambda a: extents[a])
        counts[axis] += 1


def _largest_extent(length: int, count: int, overlap: int) -> int:
    return max(hi - lo + 1 for lo, hi in axis_ranges(length, count, overlap))


def region_bytes(region: Region, bytes_per_voxel: int) -> int:
    return region.voxels() * bytes_per_voxel


def ram_needed_gb(nbytes: int) -> float:
    """GiB of RAM a SoFiA-2 task needs to load ``nbytes`` of cube."""
    return RAM_FACTOR * nbytes / GIB + RAM_MARGIN_GB


def ram_request_gb(nbytes: int, options: list[int] | None = None) -> int:
    """RAM to request for a region of ``nbytes``: the need rounded up to a value the platform offers.

    Without ``options`` (no context known) the need is rounded up to a whole GiB. UsageError with
    the numbers when no offered value is large enough.
    """
    need = ram_needed_gb(nbytes)
    if not options:
        return math.ceil(need)
    fitting = sorted(o for o in options if o >= need)
    if not fitting:
        raise UsageError(
            f"a region of {nbytes / GIB:.2f} GiB needs about {need:.1f} GiB of RAM "
            f"({RAM_FACTOR} × region + {RAM_MARGIN_GB:g} GiB), but the platform offers at most "
            f"{max(options)} GiB; split the cube into smaller regions"
        )
    return fitting[0]


def largest_region_for_ram(ram_gb: float) -> float:
    """Bytes of the largest region a session with ``ram_gb`` GiB can load."""
    return max(0.0, (ram_gb - RAM_MARGIN_GB) / RAM_FACTOR * GIB)


@dataclass(frozen=True)
class DerivedOverlap:
    """The overlap a SoFiA-2 parameter file implies, and the one line that says where it came from."""

    pixels: tuple[int, int]  # (spatial, spectral)
    source: str


def overlap_from_parameters(values: dict[str, str], par_name: str, default: int) -> DerivedOverlap:
    """The overlap that lets a neighbouring region see whole every source SoFiA-2 can link: per axis the
    largest linkable source (``linker.maxSizeXY`` / ``linker.maxSizeZ``) plus the widest smoothing kernel
    (``scfind.kernelsXY`` / ``scfind.kernelsZ``), which spreads a source's emission that far. A maximum of
    0 means "no limit": that axis keeps ``default``. ValueError names a value that is not a number."""
    axes = [_axis_overlap(values, axis, default) for axis in ("XY", "Z")]
    return DerivedOverlap(
        (axes[0][0], axes[1][0]), f"overlap {axes[0][0]},{axes[1][0]} from {par_name}: {axes[0][1]}; {axes[1][1]}"
    )


def _axis_overlap(values: dict[str, str], axis: str, default: int) -> tuple[int, str]:
    size_key, kernels_key = f"linker.maxSize{axis}", f"scfind.kernels{axis}"
    max_size = math.ceil(_number(values, size_key, "0"))
    if max_size <= 0:
        return default, f"{size_key} = 0 (no limit), so the default {default}"
    kernels = [_number({kernels_key: part}, kernels_key, "0") for part in values.get(kernels_key, "0").split(",") if part.strip()]
    kernel = math.ceil(max(kernels, default=0.0))
    return max_size + kernel, f"{size_key} {max_size} + widest {kernels_key} {kernel}"


def _number(values: dict[str, str], key: str, missing: str) -> float:
    text = values.get(key, missing).strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{key} must be a number, not {text!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{key} must be a number ≥ 0, not {text!r}")
    return number
