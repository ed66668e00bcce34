"""The typed records of a planned run, as the ledger keeps them and every later step reads them.

The planner decides each task's session, files and command once; staging, launching, watching,
collecting, the merge and ``run.json`` all read those decisions back from the ledger, possibly in
another process after a crash. They read them through these frozen dataclasses, never by string
keys, and the Skaha launch request is built here and nowhere else (:meth:`TaskSpec.launch_spec`).
``to_dict`` / ``from_dict`` give the JSON kept in SQLite; its layout is the one earlier versions
wrote, so their ledgers load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srcnet_tui.core.runs.environment import resolve_secrets
from srcnet_tui.core.runs.fits import CubeShape
from srcnet_tui.core.runs.split import Region
from srcnet_tui.core.skaha import LaunchSpec
from srcnet_tui.core.task.recorder import summary_path

TASK_COMMAND = "srcnet-task"
EXEC_MODE = "exec"  # srcnet-task's mode that runs any program under the recorder


@dataclass(frozen=True)
class Upload:
    """A local file the run needs on storage before any task starts."""

    local: Path
    remote: str

    def to_dict(self) -> dict[str, str]:
        return {"local": str(self.local), "remote": self.remote}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Upload:
        return cls(Path(data["local"]), data["remote"])


@dataclass(frozen=True)
class TaskOutputs:
    """What one task writes, all inside ``directory`` (an /arc folder of its own)."""

    directory: str
    filename: str  # SoFiA's output.filename: every product starts with it
    profile_log: str
    finder_log: str
    catalogues: tuple[str, ...]
    products: tuple[str, ...] = ()
    """Globs of the products to bring back; empty: every file that is not a cube, mask or cubelet."""

    @property
    def summary(self) -> str:
        """The recorder's summary JSON, written beside the profile log."""
        return summary_path(self.profile_log).name

    @property
    def files(self) -> tuple[str, ...]:
        """Every file name worth bringing back, logs first (catalogues exist only if sources were found)."""
        return (self.profile_log, self.summary, self.finder_log, *self.catalogues)

    def path(self, name: str) -> str:
        return f"{self.directory}/{name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "filename": self.filename,
            "profile_log": self.profile_log,
            "summary": self.summary,
            "finder_log": self.finder_log,
            "catalogues": list(self.catalogues),
            **({"products": list(self.products)} if self.products else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskOutputs:
        return cls(
            data["directory"],
            data["filename"],
            data["profile_log"],
            data["finder_log"],
            tuple(data["catalogues"]),
            tuple(data.get("products", ())),
        )


@dataclass(frozen=True)
class TaskSpec:
    """One session of a run, numbered from 1 (its files carry the same number: ``<run>_001``):
    everything needed to launch it again and to collect what it wrote."""

    index: int
    name: str  # as planned; a relaunch after a loss gets the ledger's next attempt name
    region: Region | None
    par_file: str  # the parameter file as the session sees it (/arc/...)
    cores: int
    ram_gb: int
    args: list[str]
    outputs: TaskOutputs
    image: str
    env: dict[str, str] = field(default_factory=dict)
    gpus: int = 0
    cmd: str = TASK_COMMAND
    secret_env: tuple[str, ...] = ()  # names only: their values are read when the launch request is built
    secrets_file: str | None = None

    @property
    def command_line(self) -> list[str]:
        """What the task runs: the user's program for ``srcnet-task exec`` tasks, else the session's command."""
        if self.args[:1] == [EXEC_MODE] and "--" in self.args:
            return self.args[self.args.index("--") + 1 :]
        return [self.cmd, *self.args]

    def launch_spec(self, name: str | None = None) -> LaunchSpec:
        """The Skaha request that starts this task, as session ``name`` (default: the planned name).
        No GPUs: the field is left out. The one place secret values are read (and they go nowhere else)."""
        return LaunchSpec(
            name=name or self.name,
            image=self.image,
            cmd=self.cmd,
            args=list(self.args),
            env={**self.env, **resolve_secrets(self.secret_env, self.secrets_file)},
            cores=self.cores,
            ram=self.ram_gb,
            gpus=self.gpus or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "region": str(self.region) if self.region else None,
            "par_file": self.par_file,
            "cores": self.cores,
            "ram_gb": self.ram_gb,
            "cmd": self.cmd,
            "args": list(self.args),
            "outputs": self.outputs.to_dict(),
            "image": self.image,
            "env": dict(self.env),
            "gpus": self.gpus or None,
            **({"secret_env": list(self.secret_env), "secrets_file": self.secrets_file} if self.secret_env else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        return cls(
            index=data["index"],
            name=data["name"],
            region=Region.parse(data["region"]) if data.get("region") else None,
            par_file=data["par_file"],
            cores=data["cores"],
            ram_gb=data["ram_gb"],
            args=list(data["args"]),
            outputs=TaskOutputs.from_dict(data["outputs"]),
            image=data["image"],
            env=dict(data.get("env") or {}),
            gpus=data.get("gpus") or 0,
            cmd=data.get("cmd") or TASK_COMMAND,
            secret_env=tuple(data.get("secret_env") or ()),
            secrets_file=data.get("secrets_file"),
        )


@dataclass(frozen=True)
class RunPlan:
    """The run-wide part of a plan a resumed run, ``run.json`` and the merge need (the tasks are
    the ledger's own rows). ``config`` is the effective configuration as ``run.json`` records it."""

    run_id: str
    kind: str  # "task" | "parallel" | "split" (finders) | "command" | "k8s" | "condor"
    config: dict[str, Any]
    image: str
    gpus: int
    env: dict[str, str]
    output_dir: str  # the run's folder on /arc; each task has a sub-folder
    input_data: str  # the cube as the sessions see it
    uploads: tuple[Upload, ...]
    cube: CubeShape | None = None
    grid: tuple[int, int, int] | None = None
    overlap: tuple[int, int] | None = None
    max_parallel: int | None = None  # the user's cap on tasks running at once; None: the platform schedules

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "config": self.config,
            "image": self.image,
            "gpus": self.gpus,
            "env": dict(self.env),
            "output_dir": self.output_dir,
            "input_data": self.input_data,
            "cube": self.cube.to_dict() if self.cube else None,
            "grid": list(self.grid) if self.grid else None,
            "overlap": list(self.overlap) if self.overlap else None,
            "uploads": [upload.to_dict() for upload in self.uploads],
            "max_parallel": self.max_parallel,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunPlan:
        """Also reads plans recorded before ``max_parallel`` had its own field (it was only in the config)."""
        cube = data.get("cube")
        grid, overlap = data.get("grid"), data.get("overlap")
        max_parallel = data["max_parallel"] if "max_parallel" in data else data["config"]["settings"].get("max_parallel")
        return cls(
            run_id=data["run_id"],
            kind=data["kind"],
            config=data["config"],
            image=data["image"],
            gpus=data.get("gpus") or 0,
            env=dict(data.get("env") or {}),
            output_dir=data["output_dir"],
            input_data=data["input_data"],
            uploads=tuple(Upload.from_dict(upload) for upload in data["uploads"]),
            cube=CubeShape(cube["nx"], cube["ny"], cube["nz"], cube["bitpix"]) if cube else None,
            grid=(grid[0], grid[1], grid[2]) if grid else None,
            overlap=(overlap[0], overlap[1]) if overlap else None,
            max_parallel=max_parallel,
        )
