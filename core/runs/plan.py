"""Turn a checked run configuration into the exact list of sessions a run will launch.

A plan is pure data: which files to stage where, and for every task its session name, region,
parameter file, resources, output folder and the ``srcnet-task`` command line the session runs.
It is computed before anything is created, so ``--dry-run`` shows it, ``run.json`` records it and
a resumed run can compare against it.

Skaha splits a session's ``args`` on single spaces and cannot quote, and Kubernetes expands
``$(NAME)`` in them; the seed scripts also pushed paths through two shells. So every path that ends
up in a task's arguments is checked against a small safe alphabet, and a parameter file named
``a b;touch pwned.par`` is refused here, by name, before any session exists. The session command is
always ``srcnet-task``, which runs the finder without a shell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import KEYS_BY_NAME, RunConfig, SplitSpec, is_arc_path
from srcnet_tui.core.runs.fits import CubeShape, read_cube_shape
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs, TaskSpec, Upload
from srcnet_tui.core.runs.split import (
    Region,
    counts_for_max_bytes,
    counts_for_region_size,
    grid_regions,
    largest_region_for_ram,
    ram_needed_gb,
    ram_request_gb,
    region_bytes,
)
from srcnet_tui.core.skaha_rules import GIB, MAX_NAME, SAFE_ARG, SAFE_CHARACTERS

_RUN_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
CATALOGUE_SUFFIXES = {"sofia": ("_cat.xml", "_cat.txt"), "bdsf": ("_cat.csv",)}


@dataclass(frozen=True)
class Plan:
    """Everything a run will do, decided before it does any of it."""

    run_kind: str  # "task" | "parallel" | "split"
    tasks: list[TaskSpec]
    run_id: str
    config: RunConfig
    output_dir: str  # the run's folder on /arc; each task has a sub-folder
    input_data: str  # the cube as the sessions see it
    uploads: list[Upload]
    cube: CubeShape | None = None
    grid: tuple[int, int, int] | None = None
    warnings: list[str] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)
    """One line per default fitted to what the platform offers (said by ``--dry-run`` and the run)."""

    @property
    def image(self) -> str:
        return self.config.image

    @property
    def gpus(self) -> int:
        return self.config.gpus

    @property
    def env(self) -> dict[str, str]:
        return dict(self.config.env)

    def describe(self) -> list[str]:
        """Human-readable lines for ``--dry-run``: settings (defaults marked), then one line per task."""
        lines = [f"run {self.run_id}: {self.run_kind}, {len(self.tasks)} task(s), outputs in {self.output_dir}"]
        for key, value, note in self.config.describe():
            lines.append(f"  {key} = {value}" + (f"   ({note})" if note else ""))
        if self.cube:
            lines.append(f"  cube {self.cube.nx}x{self.cube.ny}x{self.cube.nz}, BITPIX {self.cube.bitpix}, grid {self.grid}")
        lines += [f"  upload {u.local} -> {u.remote}" for u in self.uploads]
        for task in self.tasks:
            region = f" region {task.region}" if task.region else ""
            lines.append(f"  {task.name}: {task.cores} cores, {task.ram_gb} GiB{region}, {task.par_file}")
        lines += [f"  {line}" for line in self.adjustments]
        lines += [f"  warning: {w}" for w in self.warnings]
        return lines

    def recorded(self) -> RunPlan:
        """The run-wide part the ledger keeps (its tasks are kept as rows of their own)."""
        return RunPlan(
            run_id=self.run_id,
            kind=self.run_kind,
            config=self.config.to_dict(),
            image=self.image,
            gpus=self.gpus,
            env=self.env,
            output_dir=self.output_dir,
            input_data=self.input_data,
            uploads=tuple(self.uploads),
            cube=self.cube,
            grid=self.grid,
            overlap=self.config.overlap if self.run_kind == "split" else None,
            max_parallel=self.config.max_parallel,
        )

    def to_dict(self) -> dict:
        """The plan as ``--dry-run --json`` prints it."""
        return {
            **self.recorded().to_dict(),
            "tasks": [task.to_dict() for task in self.tasks],
            "warnings": list(self.warnings),
            "adjustments": list(self.adjustments),
        }


def plan_run(
    config: RunConfig,
    run_id: str,
    *,
    context: dict | None = None,
    read_header: Callable[[str], CubeShape] = read_cube_shape,
) -> Plan:
    """Plan a ``run`` (one task), a ``parallel`` run over a folder of parameter files, or a split run.

    ``context`` is the platform's ``/v1/context`` answer: when given, cores, RAM and GPUs are checked
    against what it offers and split tasks get the smallest RAM option that fits. ``read_header``
    reads a cube's shape given ``config.image_file`` (a local path or an /arc path); the default
    reads local files, the caller passes a storage-aware one for cubes already on /arc.
    """
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id must be 1-40 lowercase letters, digits or '-', not {run_id!r}")
    builder = _Builder(config, run_id, _Options.from_context(context))
    if config.split:
        return builder.split_plan(read_header(config.image_file), config.split)
    if config.kind == "task":
        return builder.files_plan("task", [_given(config, "parameter_file", config.parameter_file)], "parameter_file")
    return builder.files_plan("parallel", _parameter_files(config), "parameter_file_dir")


T = TypeVar("T")


def _given(config: RunConfig, key: str, value: T | None) -> T:
    """A setting the config loader requires for this kind of run (a missing one is still a config error)."""
    if value is None:
        raise config.error(key, "is required for this run")
    return value


def _parameter_files(config: RunConfig) -> list[str]:
    folder = _given(config, "parameter_file_dir", config.parameter_file_dir)
    if is_arc_path(folder):
        raise config.error("parameter_file_dir", f"must be a local folder, not {folder!r}")
    files = sorted(str(p) for p in Path(folder).iterdir() if p.suffix == ".par" and p.is_file())
    if not files:
        raise config.error("parameter_file_dir", f"no *.par files in {folder}")
    return files


@dataclass(frozen=True)
class _Options:
    """What the platform offers (empty tuples: unknown, so anything goes; ``gpus`` None: unknown,
    empty: a context that lists no GPU options offers none)."""

    cores: tuple[int, ...] = ()
    ram: tuple[int, ...] = ()
    gpus: tuple[int, ...] | None = None

    @classmethod
    def from_context(cls, context: dict | None) -> _Options:
        if not context:
            return cls()
        return cls(
            cores=_option_list(context, "cores", "availableCores"),
            ram=_option_list(context, "memoryGB", "availableRAM"),
            gpus=_option_list(context, "gpus", "availableGPUs") if _mentions(context, "gpus", "availableGPUs") else None,
        )


def _mentions(context: dict, key: str, legacy_key: str) -> bool:
    return key in context or legacy_key in context


def _option_list(context: dict, key: str, legacy_key: str) -> tuple[int, ...]:
    entry = context.get(key)
    values = entry.get("options") if isinstance(entry, dict) else context.get(legacy_key)
    return tuple(sorted(int(v) for v in values or () if str(v).strip().isdigit()))


FITTED_KEYS = ("cores", "ram")
"""Resources whose default a platform may not offer: unwritten, they take the largest offered below it."""


def _offered_below_defaults(config: RunConfig, options: _Options) -> dict[str, int]:
    """For each unwritten resource key whose default is not offered: the largest offered value below it."""
    fitted = {}
    for key, offered in zip(FITTED_KEYS, (options.cores, options.ram), strict=True):
        default = _setting(config, key)
        below = [value for value in offered if default is not None and value <= default]
        if key in config.defaulted and below and default not in offered:
            fitted[key] = max(below)
    return fitted


def _setting(config: RunConfig, key: str) -> Any:
    return getattr(config, KEYS_BY_NAME[key].attribute)


def _fitted_line(config: RunConfig, key: str) -> str:
    return (
        f"{config.where(key)}: not set; the default {config.fitted[key]} is not offered by the platform, "
        f"so each task asks for {_setting(config, key)}, the largest it offers below that"
    )


class _Builder:
    """Builds the tasks of one plan, collecting uploads and warnings as it goes."""

    def __init__(self, config: RunConfig, run_id: str, options: _Options):
        config = config.fitted_to(_offered_below_defaults(config, options))
        self.config = config
        self.adjustments = [_fitted_line(config, key) for key in config.fitted]
        self.run_id = run_id
        self.options = options
        self.output_dir = f"{config.vos_dir}/{run_id}"
        self.uploads: list[Upload] = []
        self.warnings: list[str] = []
        self._check_arg(config.vos_dir, "vos_dir")
        self._check_storage_path(config.vos_dir, "vos_dir")
        self._check_arg(Path(config.profile_log).name, "profile_log")
        self._check_offered("cores", config.cores, options.cores or None)
        if config.gpus:
            self._check_offered("gpus", config.gpus, options.gpus)
        if config.ram_gb is not None:
            self._check_offered("ram", config.ram_gb, options.ram or None)
        self.input_data = self._staged(config.image_file, "image_file", config.vos_dir)

    def files_plan(self, kind: str, par_files: list[str], key: str) -> Plan:
        ram_gb = _given(self.config, "ram", self.config.ram_gb)
        tasks = [
            self._task(number, self._staged(par, key, f"{self.output_dir}/params"), None, ram_gb, len(par_files))
            for number, par in enumerate(par_files, start=1)
        ]
        return self._plan(kind, tasks)

    def split_plan(self, cube: CubeShape, split: SplitSpec) -> Plan:
        grid = self._grid(cube, split)
        regions = grid_regions(cube.shape, grid, self.config.overlap)
        parameter_file = _given(self.config, "parameter_file", self.config.parameter_file)
        par_file = self._staged(parameter_file, "parameter_file", f"{self.output_dir}/params")
        tasks = [
            self._task(number, par_file, region, self._split_ram(region, cube), len(regions))
            for number, region in enumerate(regions, start=1)
        ]
        return self._plan("split", tasks, cube=cube, grid=grid)

    def _plan(self, kind: str, tasks: list[TaskSpec], **extra) -> Plan:
        return Plan(
            run_kind=kind,
            tasks=tasks,
            run_id=self.run_id,
            config=self.config,
            output_dir=self.output_dir,
            input_data=self.input_data,
            uploads=self.uploads,
            warnings=self.warnings,
            adjustments=self.adjustments,
            **extra,
        )

    def _grid(self, cube: CubeShape, split: SplitSpec) -> tuple[int, int, int]:
        if split.mode == "grid" and split.values:
            return split.values
        if split.mode == "size" and split.values:
            return counts_for_region_size(cube.shape, split.values)
        max_bytes = self.config.region_max_gb * GIB
        ram_ceiling = self.config.ram_gb or (max(self.options.ram) if self.options.ram else None)
        if ram_ceiling:
            max_bytes = min(max_bytes, largest_region_for_ram(ram_ceiling))
        try:
            return counts_for_max_bytes(cube.shape, cube.bytes_per_voxel, self.config.overlap, max_bytes)
        except UsageError as exc:
            raise self.config.error("split", str(exc)) from None

    def _split_ram(self, region: Region, cube: CubeShape) -> int:
        nbytes = region_bytes(region, cube.bytes_per_voxel)
        if self.config.ram_gb is not None:
            need = ram_needed_gb(nbytes)
            if self.config.ram_gb < need:
                self.warnings.append(
                    f"{self.config.where('ram')}: {self.config.ram_gb} GiB is less than the ~{need:.1f} GiB region {region} needs"
                )
            return self.config.ram_gb
        try:
            return ram_request_gb(nbytes, list(self.options.ram))
        except UsageError as exc:
            raise self.config.error("split", str(exc)) from None

    def _task(self, number: int, par_file: str, region: Region | None, ram_gb: int, count: int) -> TaskSpec:
        config = self.config
        tag = f"{number:03d}"
        filename = f"{self.run_id}_{tag}"
        outputs = TaskOutputs(
            directory=f"{self.output_dir}/{task_label(number)}",
            filename=filename,
            profile_log=_profile_log_name(config.profile_log, tag, count),
            finder_log=f"{filename}_{config.finder}.log",
            catalogues=tuple(filename + suffix for suffix in CATALOGUE_SUFFIXES[config.finder]),
        )
        args = [
            "--finder", config.finder,
            "--par", par_file,
            "--data", self.input_data,
            "--out", outputs.directory,
            "--filename", filename,
            "--threads", str(config.cores),
            "--log", outputs.profile_log,
            "--finder-log", outputs.finder_log,
            "--interval", f"{config.interval:g}",
        ]  # fmt: skip
        if region:
            args += ["--region", str(region)]
        return TaskSpec(
            index=number,
            name=self._session_name(tag),
            region=region,
            par_file=par_file,
            cores=config.cores,
            ram_gb=ram_gb,
            args=args,
            outputs=outputs,
            image=config.image,
            env=dict(config.env),
            gpus=config.gpus,
        )

    def _session_name(self, tag: str) -> str:
        suffix = f"-{self.run_id}-{tag}"
        prefix = self.config.name[: MAX_NAME - len(suffix)].rstrip("-")
        return f"{prefix}{suffix}" if prefix else suffix.lstrip("-")

    def _staged(self, path: str, key: str, remote_dir: str) -> str:
        """Where the sessions find ``path``: /arc paths as written, local files uploaded to ``remote_dir``."""
        if is_arc_path(path):
            self._check_arg(path, key)
            self._check_storage_path(path, key)
            return path
        local = Path(path)
        self._check_arg(local.name, key, shown=str(local))
        self._check_readable(local, key)
        remote = f"{remote_dir}/{local.name}"
        upload = Upload(local, remote)
        if upload not in self.uploads:
            self.uploads.append(upload)
        return remote

    def _check_storage_path(self, path: str, key: str) -> None:
        """Storage refuses '..' when staging; refuse it here, before the run is recorded."""
        if ".." in path.split("/"):
            raise self.config.error(key, f"'..' is not allowed in storage paths ({path})")

    def _check_readable(self, local: Path, key: str) -> None:
        """A local input is read when staged; refuse it now rather than after the run is recorded."""
        try:
            with open(local, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise self.config.error(key, f"cannot read {local} ({exc.strerror})") from None

    def _check_arg(self, value: str, key: str, shown: str | None = None) -> None:
        if not SAFE_ARG.fullmatch(value):
            raise self.config.error(
                key,
                f"{shown or value!r} cannot be passed to a session "
                f"(Skaha splits arguments at spaces and cannot quote); rename it using only {SAFE_CHARACTERS}",
            )

    def _check_offered(self, key: str, value: int, offered: tuple[int, ...] | None) -> None:
        """``offered`` None: not known, so anything goes."""
        if offered is not None and value not in offered:
            shown = ", ".join(map(str, offered)) or "none"
            raise self.config.error(key, f"{value} is not offered by the platform (options: {shown})")


def task_label(number: int) -> str:
    """How a run names its task ``number`` (its folder on storage, its row in the usage table): ``task-003``."""
    return f"task-{number:03d}"


def _profile_log_name(profile_log: str, tag: str, count: int) -> str:
    """The log file a task of ``count`` writes (and that comes back): ``profile_log``'s name, numbered when several."""
    name = Path(profile_log).name
    return name if count == 1 else _numbered(name, tag)


def _numbered(file_name: str, tag: str) -> str:
    """``sofia_profile.txt`` → ``sofia_profile_003.txt``: one profile log per task in a shared logs folder."""
    stem, dot, suffix = file_name.rpartition(".")
    return f"{stem}_{tag}.{suffix}" if dot and stem else f"{file_name}_{tag}"
