"""SoFiA-2 runs: one task per parameter file, or one per region of a split cube.

Each task runs ``srcnet-task --finder sofia`` (:mod:`srcnet_tui.core.task.runner`), which sets
``input.data``, ``output.directory``, ``output.filename``, ``pipeline.threads`` (and
``input.region``) on the finder's command line; its products are the catalogues. PyBDSF
(:mod:`.bdsf`) is the same kind of run with another finder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import SplitSpec, is_storage_path
from srcnet_tui.core.runs.fits import CubeShape
from srcnet_tui.core.runs.plan import given
from srcnet_tui.core.runs.sizing import SizeEstimate
from srcnet_tui.core.runs.spec import TaskSpec
from srcnet_tui.core.runs.split import (
    Region,
    counts_for_max_bytes,
    counts_for_region_size,
    grid_regions,
    largest_region_for_ram,
    overlap_from_parameters,
    ram_needed_gb,
    ram_request_gb,
    region_bytes,
    too_many_regions,
)
from srcnet_tui.core.skaha_rules import GIB

if TYPE_CHECKING:
    from srcnet_tui.core.runs.plan import Plan, TaskBuilder


@dataclass(frozen=True)
class FinderKind:
    """A source finder run by ``srcnet-task`` over one cube; ``catalogue_suffixes`` name its catalogues."""

    name: str
    catalogue_suffixes: tuple[str, ...]

    def plan(self, builder: TaskBuilder) -> Plan:
        config = builder.config
        input_data = builder.staged(given(config, "image_file", config.image_file), "image_file", config.vos_dir)
        if config.split:
            return self._split_plan(builder, input_data, config.split)
        if config.kind == "task":
            par_files = [given(builder.config, "parameter_file", config.parameter_file)]
            return self._files_plan(builder, input_data, "task", par_files, "parameter_file")
        return self._files_plan(builder, input_data, "parallel", _parameter_files(builder), "parameter_file_dir")

    def _files_plan(self, builder: TaskBuilder, input_data: str, kind: str, par_files: list[str], key: str) -> Plan:
        params = f"{builder.output_dir}/params"
        staged = [builder.staged(par, key, params) for par in par_files]
        tasks = [self._task(builder, number, par, input_data, None, len(staged)) for number, par in enumerate(staged, start=1)]
        return builder.plan(kind, tasks, input_data)

    def _split_plan(self, builder: TaskBuilder, input_data: str, split: SplitSpec) -> Plan:
        if self.name == "sofia" and "overlap" in builder.config.defaulted:
            _overlap_from_parameter_file(builder)
        config = builder.config
        cube = builder.read_header(given(config, "image_file", config.image_file))
        grid = _grid(builder, cube, split)
        try:
            regions = grid_regions(cube.shape, grid, config.overlap)
        except UsageError as exc:
            key = "split" if too_many_regions(cube.shape, grid) else "overlap"
            raise config.error(
                key, f"{exc} (cube {cube.nx}x{cube.ny}x{cube.nz}, split {split}, overlap {config.overlap[0]},{config.overlap[1]})"
            ) from None
        parameter_file = given(builder.config, "parameter_file", config.parameter_file)
        par_file = builder.staged(parameter_file, "parameter_file", f"{builder.output_dir}/params")
        tasks = [
            self._task(builder, number, par_file, input_data, region, len(regions), _split_ram(builder, region, cube))
            for number, region in enumerate(regions, start=1)
        ]
        estimate = (
            sofia_estimate(Path(parameter_file), regions)
            if self.name == "sofia" and not is_storage_path(parameter_file)
            else None
        )
        return builder.plan("split", tasks, input_data, cube=cube, grid=grid, estimate=estimate)

    def _task(
        self,
        builder: TaskBuilder,
        number: int,
        par_file: str,
        input_data: str,
        region: Region | None,
        count: int,
        ram_gb: int | None = None,
    ) -> TaskSpec:
        config = builder.config
        filename = builder.filename(number)
        outputs = builder.outputs(
            number, count, f"{filename}_{self.name}.log", catalogues=tuple(filename + s for s in self.catalogue_suffixes)
        )
        args = [
            "--finder", self.name,
            "--par", par_file,
            "--data", input_data,
            "--out", outputs.directory,
            "--filename", filename,
            "--threads", str(config.cores),
            "--log", outputs.profile_log,
            "--finder-log", outputs.finder_log,
            "--interval", f"{config.interval:g}",
        ]  # fmt: skip
        if region:
            args += ["--region", str(region)]
        resources = {"ram_gb": ram_gb} if ram_gb is not None else {}
        return builder.task(number, outputs, args, region=region, par_file=par_file, **resources)


def _overlap_from_parameter_file(builder: TaskBuilder) -> None:
    """An unwritten overlap becomes the one the parameter file implies (said in the plan's adjustments);
    a parameter file already on storage cannot be read here, so the default stays, said as well."""
    config = builder.config
    parameter_file = given(config, "parameter_file", config.parameter_file)
    if is_storage_path(parameter_file):
        builder.adjustments.append(
            f"overlap {config.overlap[0]},{config.overlap[1]}: the default ({parameter_file} is not read here)"
        )
        return
    try:
        derived = overlap_from_parameters(parameter_values(Path(parameter_file)), Path(parameter_file).name, config.overlap[0])
    except ValueError as exc:
        raise config.error("parameter_file", f"{parameter_file}: {exc}") from None
    builder.config = replace(config, overlap=derived.pixels)
    builder.adjustments.append(derived.source)


def parameter_values(par_file: Path) -> dict[str, str]:
    """A SoFiA-2 parameter file's ``key = value`` lines (comments and blank lines skipped)."""
    values = {}
    for line in par_file.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.split("#", 1)[0].strip()
    return values


def _parameter_files(builder: TaskBuilder) -> list[str]:
    config = builder.config
    folder = given(builder.config, "parameter_file_dir", config.parameter_file_dir)
    if is_storage_path(folder):
        raise config.error("parameter_file_dir", f"must be a local folder, not {folder!r}")
    files = sorted(str(p) for p in Path(folder).iterdir() if p.suffix == ".par" and p.is_file())
    if not files:
        raise config.error("parameter_file_dir", f"no *.par files in {folder}")
    return files


def _grid(builder: TaskBuilder, cube: CubeShape, split: SplitSpec) -> tuple[int, int, int]:
    config, options = builder.config, builder.options
    if split.mode == "grid" and split.values:
        return split.values
    if split.mode == "size" and split.values:
        return counts_for_region_size(cube.shape, split.values)
    max_bytes = config.region_max_gb * GIB
    ram_ceiling = config.ram_gb or (max(options.ram) if options.ram else None)
    if ram_ceiling:
        max_bytes = min(max_bytes, largest_region_for_ram(ram_ceiling))
    try:
        return counts_for_max_bytes(cube.shape, cube.bytes_per_voxel, config.overlap, max_bytes)
    except UsageError as exc:
        raise config.error("split", str(exc)) from None


def _split_ram(builder: TaskBuilder, region: Region, cube: CubeShape) -> int:
    config = builder.config
    nbytes = region_bytes(region, cube.bytes_per_voxel)
    if config.ram_gb is not None:
        need = ram_needed_gb(nbytes)
        if config.ram_gb < need:
            builder.warnings.append(
                f"{config.where('ram')}: {config.ram_gb} GiB is less than the ~{need:.1f} GiB region {region} needs"
            )
        return config.ram_gb
    try:
        return ram_request_gb(nbytes, list(builder.options.ram))
    except UsageError as exc:
        raise config.error("split", str(exc)) from None


SOFIA_PRODUCT_BYTES = {
    "output.writemask": (4, 0),  # 32-bit source ids per voxel
    "output.writerawmask": (1, 0),
    "output.writenoise": (4, 0),  # the noise cube, float32
    "output.writefiltered": (4, 0),
    "output.writemask2d": (0, 4),
    "output.writemoments": (0, 16),  # mom0, mom1, mom2 and the channel map, float32 each
}
"""Bytes per voxel of a region and per pixel of its plane that each enabled SoFiA-2 output writes
(SoFiA-2 writes none of them unless the parameter file says ``true``; cubelets depend on the sources found)."""


def enabled_outputs(par_file: Path) -> list[str]:
    """The ``output.write*`` switches a SoFiA-2 parameter file turns on (lower-case keys)."""
    return [key.lower() for key, value in parameter_values(par_file).items() if value.lower() == "true"]


def sofia_estimate(par_file: Path, regions: list[Region]) -> SizeEstimate:
    """The bytes each region's task writes, from the outputs ``par_file`` enables."""
    outputs = [key for key in enabled_outputs(par_file) if key in SOFIA_PRODUCT_BYTES]
    per_voxel = sum(SOFIA_PRODUCT_BYTES[key][0] for key in outputs)
    per_pixel = sum(SOFIA_PRODUCT_BYTES[key][1] for key in outputs)
    per_task = tuple(r.voxels() * per_voxel + r.shape[0] * r.shape[1] * per_pixel for r in regions)
    names = ", ".join(key.removeprefix("output.write") for key in outputs) or "no cube or map outputs"
    return SizeEstimate(per_task, f"SoFiA-2 outputs enabled in {par_file.name}: {names}; catalogues and cubelets not counted")


KIND = FinderKind("sofia", ("_cat.xml", "_cat.txt"))
