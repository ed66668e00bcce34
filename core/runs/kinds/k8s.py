"""Kubernetes ``batch/v1`` Jobs and CronJobs (seed 001) as runs: ``submit job.yaml``.

The container's image, ``command`` + ``args``, env ``value``s and resources become a command run
(:mod:`.command`) of ``completions`` tasks (``JOB_COMPLETION_INDEX`` set in each, 0-based) of which
``parallelism`` run at once. A session's request is also its limit on Skaha, so a container's
limits (else its requests) become the task's cores and RAM. ``$(NAME)`` of an earlier env entry is
expanded as Kubernetes would, a CronJob's ``$(TIMESTAMP)`` is the run's ``{timestamp}``. What a Skaha
session cannot have — a PersistentVolumeClaim, ``valueFrom``, node selectors, affinities, several
containers — is refused naming the field, unless the user maps a volume to storage
(``--mount NAME=/arc/...``: paths under its ``mountPath`` in env and args are rewritten to it).
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import RunConfig, check_run_config, is_arc_path
from srcnet_tui.core.runs.kinds.command import CommandKind
from srcnet_tui.core.runs.sizing import SizeEstimate, gib
from srcnet_tui.core.runs.spec import TaskSpec
from srcnet_tui.core.skaha_rules import ENV_NAME_PATTERN

if TYPE_CHECKING:
    from srcnet_tui.core.runs.plan import Plan, TaskBuilder

KINDS = ("Job", "CronJob")
UNSUPPORTED_POD_FIELDS = ("nodeSelector", "affinity", "tolerations", "initContainers", "hostNetwork", "securityContext")
UNSUPPORTED_CONTAINER_FIELDS = {
    "envFrom": "list the variables under env (a secret: secret_env in a config.ini)",
    "workingDir": "a task runs in its own folder on storage",
    "volumeDevices": "a session has no block devices",
}
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_QUANTITY = re.compile(r"([0-9.]+)([A-Za-z]*)")
MEMORY_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
GIB = 2**30


@dataclass(frozen=True)
class Manifest:
    """A Job or CronJob read from a file: the run it becomes, and a CronJob's schedule."""

    config: RunConfig
    kind: str  # "Job" | "CronJob"
    schedule: str | None = None
    forbid_concurrent: bool = False


class _Fields:
    """Reads one manifest, every error naming the file and the field's path."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, field: str, message: str) -> UsageError:
        return UsageError(f"{self.path.name}: {field}: {message}", key=field)

    def mapping(self, data: Any, field: str) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.error(field, f"must be a mapping, not {type(data).__name__}")
        return data

    def strings(self, data: Any, field: str) -> list[str]:
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(item, str | int | float) for item in data):
            raise self.error(field, "must be a list of strings")
        return [str(item) for item in data]


def read_manifest(path: Path, vos_dir: str, mounts: dict[str, str] | None = None) -> Manifest:
    """The run a Job or CronJob manifest describes, writing under ``vos_dir``; ``mounts`` maps volume names to /arc."""
    path = path.resolve()
    fields = _Fields(path)
    document = _load(path, fields)
    kind = document.get("kind")
    if kind not in KINDS or not str(document.get("apiVersion", "")).startswith("batch/"):
        raise fields.error("kind", f"must be a batch/v1 Job or CronJob, not {document.get('apiVersion')} {kind}")
    spec = fields.mapping(document.get("spec"), "spec")
    job, where = spec, "spec"
    if kind == "CronJob":
        job_template = fields.mapping(spec.get("jobTemplate"), "spec.jobTemplate")
        job, where = fields.mapping(job_template.get("spec"), "spec.jobTemplate.spec"), "spec.jobTemplate.spec"
    name = str(fields.mapping(document.get("metadata"), "metadata").get("name") or path.stem)
    config = _job_config(fields, job, where, f"{kind} {name}", vos_dir, mounts or {})
    if kind == "CronJob":
        schedule = spec.get("schedule")
        if not isinstance(schedule, str) or len(schedule.split()) != 5:
            raise fields.error("spec.schedule", f"must be a five-field cron schedule, not {schedule!r}")
        return Manifest(config, kind, schedule, spec.get("concurrencyPolicy") == "Forbid")
    return Manifest(config, kind)


def _load(path: Path, fields: _Fields) -> dict[str, Any]:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise fields.error(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise UsageError(f"{path.name}: must hold exactly one Job or CronJob ({len(documents)} documents found)")
    return documents[0]


def _job_config(fields: _Fields, job: dict, where: str, section: str, vos_dir: str, mounts: dict[str, str]) -> RunConfig:
    pod_where = f"{where}.template.spec"
    pod = fields.mapping(fields.mapping(job.get("template"), f"{where}.template").get("spec"), pod_where)
    for field in UNSUPPORTED_POD_FIELDS:
        if pod.get(field):
            raise fields.error(f"{pod_where}.{field}", "has no Skaha equivalent (a session runs wherever the platform puts it)")
    containers = pod.get("containers")
    if not isinstance(containers, list) or len(containers) != 1:
        raise fields.error(f"{pod_where}.containers", "must hold exactly one container (a Skaha session runs one)")
    at = f"{pod_where}.containers[0]"
    container = fields.mapping(containers[0], at)
    for field, advice in UNSUPPORTED_CONTAINER_FIELDS.items():
        if container.get(field):
            raise fields.error(f"{at}.{field}", f"has no Skaha equivalent ({advice})")
    mounted = _mounts(fields, pod, container, pod_where, at, mounts)
    completions = _count(fields, job.get("completions"), f"{where}.completions")
    indexed = {"JOB_COMPLETION_INDEX": "{index}"} if completions > 1 else {}  # set first, as Kubernetes does
    env = _env(fields, container.get("env"), f"{at}.env", mounted, indexed)
    argv = [
        _expanded(fields, part, env, f"{at}.command", mounted)
        for part in fields.strings(container.get("command"), f"{at}.command")
    ]
    argv += [_expanded(fields, part, env, f"{at}.args", mounted) for part in fields.strings(container.get("args"), f"{at}.args")]
    if not argv:
        raise fields.error(
            f"{at}.command", "is required (Skaha starts a headless session with its command, not the image's entrypoint)"
        )
    resources = fields.mapping(container.get("resources"), f"{at}.resources")
    cores, ram = _resources(fields, resources, f"{at}.resources")
    gpus = _gpus(fields, resources, f"{at}.resources")
    values = {
        "kind": "command",
        "vos_dir": vos_dir,
        "image": str(container.get("image") or ""),
        "name": re.sub(r"[^a-z0-9-]+", "-", section.split(" ", 1)[1].lower()).strip("-")[:40] or "job",
        "command": shlex.join(argv),
        "cores": str(cores),
        "ram": str(ram),
        "gpus": str(gpus),
    }
    if job.get("parallelism") is not None:
        values["max_parallel"] = str(_count(fields, job.get("parallelism"), f"{where}.parallelism"))
    config = check_run_config(fields.path, section, "parallel", values)
    arguments = tuple(str(i) for i in range(completions)) if completions > 1 else None
    return replace(config, workload="k8s", env=env, arguments=arguments, at_least=frozenset({"cores", "ram"}))


def _mounts(fields: _Fields, pod: dict, container: dict, pod_where: str, at: str, mounts: dict[str, str]) -> dict[str, str]:
    """mountPath -> /arc path for every volume the container mounts; volumes left unmapped are refused, all named."""
    for name, target in mounts.items():
        if not is_arc_path(target):
            raise UsageError(f"--mount {name}={target}: must map to a path under /arc/")
    volumes = {str(v.get("name")): v for v in pod.get("volumes") or [] if isinstance(v, dict)}
    mapped: dict[str, str] = {}
    unmapped: list[str] = []
    for number, mount in enumerate(container.get("volumeMounts") or []):
        mount = fields.mapping(mount, f"{at}.volumeMounts[{number}]")
        name, mount_path = str(mount.get("name")), str(mount.get("mountPath") or "").rstrip("/")
        if name in mounts:
            mapped[mount_path] = mounts[name].rstrip("/")
        else:
            unmapped.append(f"{name} at {mount_path} ({_volume_source(volumes.get(name, {}))})")
    if unmapped:
        names = [entry.split(" ", 1)[0] for entry in unmapped]
        raise fields.error(
            f"{pod_where}.volumes",
            f"{'; '.join(unmapped)}: no Skaha equivalent; map to storage with "
            + " ".join(f"--mount {name}=/arc/..." for name in names)
            + " (paths under the mountPath in env and args are rewritten to it)",
        )
    return mapped


def _volume_source(volume: dict) -> str:
    """``persistentVolumeClaim tmp-pvc``, ``emptyDir``, ...: what a volume is, as the manifest says."""
    source = next((key for key in volume if key != "name"), "undeclared volume")
    claim = volume.get(source, {}).get("claimName") if isinstance(volume.get(source), dict) else None
    return f"{source} {claim}" if claim else source


def _env(fields: _Fields, entries: Any, where: str, mounted: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    """``env`` with the container's entries added in order (each may refer to the ones before it)."""
    for number, entry in enumerate(entries or []):
        entry = fields.mapping(entry, f"{where}[{number}]")
        name = str(entry.get("name") or "")
        if "valueFrom" in entry:
            raise fields.error(
                f"{where}[{number}].valueFrom", f"{name}: has no Skaha equivalent; give a value, or use secret_env for a secret"
            )
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise fields.error(f"{where}[{number}].name", f"{name!r} is not an environment variable name")
        env[name] = _expanded(fields, str(entry.get("value", "")), env, f"{where}[{number}].value", mounted)
    return env


def _expanded(fields: _Fields, text: str, env: dict[str, str], where: str, mounted: dict[str, str]) -> str:
    """``text`` as a template of the command kind: braces kept literal, ``$(NAME)`` resolved, mounts rewritten."""
    text = text.replace("{", "{{").replace("}", "}}")

    def resolve(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "TIMESTAMP":
            return "{timestamp}"
        if name in env:
            return env[name]
        raise fields.error(where, f"$({name}) names no env entry defined before it")

    text = _REFERENCE.sub(resolve, text.replace("$$", "\0")).replace("\0", "$")
    for mount_path, target in mounted.items():
        if text == mount_path or text.startswith(mount_path + "/"):
            text = target + text[len(mount_path) :]
    return text


def _resources(fields: _Fields, resources: dict, where: str) -> tuple[int, int]:
    """Cores and GiB of RAM: the limits (on Skaha a session's request is its limit), else the requests."""
    limits = fields.mapping(resources.get("limits"), f"{where}.limits")
    requests = fields.mapping(resources.get("requests"), f"{where}.requests")
    cpu_field = "limits" if "cpu" in limits else "requests"
    memory_field = "limits" if "memory" in limits else "requests"
    cpu = (limits if cpu_field == "limits" else requests).get("cpu", 1)
    memory = (limits if memory_field == "limits" else requests).get("memory", "4Gi")
    return _cores(fields, cpu, f"{where}.{cpu_field}.cpu"), _gib(fields, memory, f"{where}.{memory_field}.memory")


def _gpus(fields: _Fields, resources: dict, where: str) -> int:
    """GPUs a container asks for (``nvidia.com/gpu`` and the like, in its limits or requests)."""
    for part in ("limits", "requests"):
        section = fields.mapping(resources.get(part), f"{where}.{part}")
        for name in GPU_RESOURCES:
            if name in section:
                return _count(fields, section[name], f"{where}.{part}.{name}")
    return 0


def _cores(fields: _Fields, value: Any, where: str) -> int:
    text = str(value)
    match = _QUANTITY.fullmatch(text)
    if not match or match.group(2) not in ("", "m"):
        raise fields.error(where, f"not a CPU quantity: {text!r}")
    number = float(match.group(1)) / (1000 if match.group(2) == "m" else 1)
    return max(1, math.ceil(number))


def _gib(fields: _Fields, value: Any, where: str) -> int:
    text = str(value)
    match = _QUANTITY.fullmatch(text)
    if not match or match.group(2) not in MEMORY_UNITS:
        raise fields.error(where, f"not a memory quantity: {text!r}")
    return max(1, math.ceil(float(match.group(1)) * MEMORY_UNITS[match.group(2)] / GIB))


def _count(fields: _Fields, value: Any, where: str) -> int:
    if value is None:
        return 1
    if not isinstance(value, int) or value < 1:
        raise fields.error(where, f"must be a positive integer, not {value!r}")
    return value


KARABO_ENV = ("NUM_CHANNELS", "NUM_TIME_STAMPS", "NUM_STATIONS", "NUM_POLARIZATIONS", "IMAGING_NPIXEL")
KARABO_IMAGES = ("--dirty", "--cleaned")
COMPLEX64_BYTES = FLOAT64_BYTES = 8


def karabo_bytes(task: TaskSpec) -> tuple[int, str] | None:
    """Seed 001's minimum product size of one Karabo AA* task, from its env and flags; None without that env.

    MS ≥ channels × time stamps × baselines × polarisations × 8 B (complex64), baselines =
    stations × (stations − 1) / 2, always written (the images are made from it); each image asked
    for (``--dirty``, ``--cleaned``) ≥ npixel² × 1 channel × 8 B (float64).
    """
    try:
        channels, times, stations, pols, npixel = (int(task.env[name]) for name in KARABO_ENV)
    except (KeyError, ValueError):
        return None
    baselines = stations * (stations - 1) // 2
    ms = channels * times * baselines * pols * COMPLEX64_BYTES
    images = [flag for flag in KARABO_IMAGES if flag in task.command_line]
    image = npixel**2 * FLOAT64_BYTES
    basis = (
        f"Karabo AA*: MS {channels} ch × {times} times × {baselines} baselines ({stations} stations) × {pols} pol × 8 B"
        f" = {gib(ms)}; {len(images)} image(s) ({' '.join(images) or 'none'}) of {npixel}² × 8 B = {gib(image)} each"
    )
    return ms + len(images) * image, basis


@dataclass(frozen=True)
class JobKind(CommandKind):
    """A Job's tasks, with the Karabo AA* workflow's products estimated when its env says how big they are."""

    def plan(self, builder: TaskBuilder) -> Plan:
        plan = super().plan(builder)
        sizes = [karabo_bytes(task) for task in plan.tasks]
        if not sizes or any(size is None for size in sizes):
            return plan
        known = [size for size in sizes if size is not None]
        return replace(plan, estimate=SizeEstimate(tuple(n for n, _ in known), known[0][1]))


KIND = JobKind("k8s")
