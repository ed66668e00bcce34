"""Turn a checked run configuration into the exact list of sessions a run will launch.

A plan is pure data: which files to stage where, and for every task its session name, resources,
output folder and the command line the session runs. It is computed before anything is created, so
``--dry-run`` shows it, ``run.json`` records it and a resumed run can compare against it.

What the tasks are is the business of the run's *workload kind* (:mod:`srcnet_tui.core.runs.kinds`:
SoFiA-2, PyBDSF, any command, a Kubernetes Job, an HTCondor submit file); this module holds what
every kind shares — the platform's resource options, defaults fitted to them, the session names, the
files staged, the checks on what reaches a session's arguments — in :class:`TaskBuilder`.

Skaha splits a session's ``args`` on single spaces and cannot quote, and Kubernetes expands
``$(NAME)`` in them; the seed scripts also pushed paths through two shells. So every path that ends
up in a task's arguments is checked against a small safe alphabet, and a parameter file named
``a b;touch pwned.par`` is refused here, by name, before any session exists. The session command is
always ``srcnet-task``, which runs the workload without a shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from srcnet_tui.core.runs.config import KEYS_BY_NAME, RunConfig, is_storage_path
from srcnet_tui.core.runs.fits import CubeShape, read_cube_shape
from srcnet_tui.core.runs.kinds import kind_for
from srcnet_tui.core.runs.sizing import SizeEstimate
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs, TaskSpec, Upload
from srcnet_tui.core.skaha_rules import MAX_NAME, SAFE_ARG, SAFE_CHARACTERS

_RUN_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""``{timestamp}`` in a planned task: UTC, sortable as text."""


@dataclass(frozen=True)
class Plan:
    """Everything a run will do, decided before it does any of it."""

    run_kind: str  # "task" | "parallel" | "split" (finders) | "command" | "k8s" | "condor"
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
    estimate: SizeEstimate | None = None
    """What the tasks will write, when their kind can tell."""

    @property
    def image(self) -> str:
        return self.config.image

    @property
    def gpus(self) -> int:
        return self.config.gpus

    @property
    def env(self) -> dict[str, str]:
        return self.config.task_env

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
            lines.append(
                f"  {task.name}: {task.cores} cores, {task.ram_gb} GiB{region}, {task.par_file or shlex.join(task.command_line)}"
            )
        if self.estimate:
            lines.append(f"  {self.estimate.line()}")
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
            "estimate": self.estimate.to_dict() if self.estimate else None,
        }


def plan_run(
    config: RunConfig,
    run_id: str,
    *,
    context: dict | None = None,
    read_header: Callable[[str], CubeShape] = read_cube_shape,
    now: datetime | None = None,
) -> Plan:
    """Plan a run of ``config``'s workload kind: one task, a folder of parameter files, a split cube,
    a list of arguments, a Job's completions, a submit file's queue.

    ``context`` is the platform's ``/v1/context`` answer: when given, cores, RAM and GPUs are checked
    against what it offers and split tasks get the smallest RAM option that fits. ``read_header``
    reads a cube's shape given ``config.image_file`` (a local path or an /arc path); the default
    reads local files, the caller passes a storage-aware one for cubes already on /arc. ``now`` is
    the ``{timestamp}`` of templates (default: the current time).
    """
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id must be 1-40 lowercase letters, digits or '-', not {run_id!r}")
    builder = TaskBuilder(config, run_id, _Options.from_context(context), read_header, now or datetime.now(UTC))
    return kind_for(config.workload).plan(builder)


T = TypeVar("T")


def given(config: RunConfig, key: str, value: T | None) -> T:
    """A setting the config loader requires for this kind of run (a missing one is still a config error)."""
    if value is None:
        raise config.error(key, "is required for this run")
    return value


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
    """For each unwritten resource key whose default is not offered: the largest offered value below it;
    for each minimum (``at_least``) not offered: the smallest offered value above it."""
    fitted = {}
    for key, offered in zip(FITTED_KEYS, (options.cores, options.ram), strict=True):
        value = _setting(config, key)
        if value is None or value in offered:
            continue
        below = [option for option in offered if option <= value]
        above = [option for option in offered if option >= value]
        if key in config.at_least and above:
            fitted[key] = min(above)
        elif key in config.defaulted and below:
            fitted[key] = max(below)
    return fitted


def _setting(config: RunConfig, key: str) -> Any:
    return getattr(config, KEYS_BY_NAME[key].attribute)


def _fitted_line(config: RunConfig, key: str) -> str:
    if key in config.at_least:
        return (
            f"{config.where(key)}: {config.fitted[key]} is not offered by the platform, "
            f"so each task asks for {_setting(config, key)}, the smallest it offers above that"
        )
    return (
        f"{config.where(key)}: not set; the default {config.fitted[key]} is not offered by the platform, "
        f"so each task asks for {_setting(config, key)}, the largest it offers below that"
    )


class TaskBuilder:
    """What every workload kind shares while it plans: the checked settings, the platform's options,
    the run's folder, session names, staged files and warnings. A kind calls :meth:`task` per task
    and :meth:`plan` once."""

    def __init__(self, config: RunConfig, run_id: str, options: _Options, read_header: Callable[[str], CubeShape], now: datetime):
        config = config.fitted_to(_offered_below_defaults(config, options))
        self.config = config
        self.adjustments = [_fitted_line(config, key) for key in config.fitted]
        self.run_id = run_id
        self.options = options
        self.read_header = read_header
        self.timestamp = now.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
        self.output_dir = f"{config.vos_dir}/{run_id}"
        self.uploads: list[Upload] = []
        self.warnings: list[str] = []
        self.check_arg(config.vos_dir, "vos_dir")
        self._check_storage_path(config.vos_dir, "vos_dir")
        if "{" not in config.profile_log:  # a template is checked by its kind once expanded
            self.check_arg(Path(config.profile_log).name, "profile_log")
        self._check_offered("cores", config.cores, options.cores or None)
        if config.gpus:
            self._check_offered("gpus", config.gpus, options.gpus)
        if config.ram_gb is not None:
            self._check_offered("ram", config.ram_gb, options.ram or None)

    def plan(self, kind: str, tasks: list[TaskSpec], input_data: str = "", **extra: Any) -> Plan:
        return Plan(
            run_kind=kind,
            tasks=tasks,
            run_id=self.run_id,
            config=self.config,
            output_dir=self.output_dir,
            input_data=input_data,
            uploads=self.uploads,
            warnings=self.warnings,
            adjustments=self.adjustments,
            **extra,
        )

    def outputs(self, number: int, count: int, log_name: str, profile_log: str | None = None, **files: Any) -> TaskOutputs:
        """Task ``number``'s folder and files; its profile log (unless given) is numbered when the run has several tasks."""
        return TaskOutputs(
            directory=f"{self.output_dir}/{task_label(number)}",
            filename=self.filename(number),
            profile_log=profile_log or _profile_log_name(self.config.profile_log, f"{number:03d}", count),
            finder_log=log_name,
            **files,
        )

    def filename(self, number: int) -> str:
        """The base name of task ``number``'s products: ``<run>_003``."""
        return f"{self.run_id}_{number:03d}"

    def task(self, number: int, outputs: TaskOutputs, args: list[str], **fields: Any) -> TaskSpec:
        """Task ``number`` with the run's resources (``fields`` override them: ``ram_gb``, ``env``, ...)."""
        config = self.config
        settings: dict[str, Any] = {"region": None, "par_file": "", "cores": config.cores, "image": config.image}
        secrets = {"secret_env": config.secret_env, "secrets_file": config.secrets_file}
        settings.update({"env": config.task_env, "gpus": config.gpus, **secrets, **fields})
        if "ram_gb" not in settings:
            settings["ram_gb"] = given(config, "ram", config.ram_gb)
        return TaskSpec(index=number, name=self._session_name(f"{number:03d}"), args=args, outputs=outputs, **settings)

    def _session_name(self, tag: str) -> str:
        suffix = f"-{self.run_id}-{tag}"
        prefix = self.config.name[: MAX_NAME - len(suffix)].rstrip("-")
        return f"{prefix}{suffix}" if prefix else suffix.lstrip("-")

    def staged(self, path: str, key: str, remote_dir: str) -> str:
        """Where the sessions find ``path``: /arc paths as written, local files uploaded to ``remote_dir``."""
        if is_storage_path(path):
            self.check_arg(path, key)
            self._check_storage_path(path, key)
            return path
        local = Path(path)
        self.check_arg(local.name, key, shown=str(local))
        self._check_readable(local, key)
        remote = f"{remote_dir}/{local.name}"
        upload = Upload(local, remote)
        if upload not in self.uploads:
            self.uploads.append(upload)
        return remote

    def staged_definition(self, remote_dir: str) -> str:
        """The file that defines the run (config.ini, manifest, submit file), uploaded with it for provenance."""
        upload = Upload(self.config.path, f"{remote_dir}/{self.config.path.name}")
        self.uploads.append(upload)
        return upload.remote

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

    def check_arg(self, value: str, key: str, shown: str | None = None) -> None:
        """``value`` (a path or name put into a session's arguments) keeps to the safe alphabet."""
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
