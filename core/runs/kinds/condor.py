"""HTCondor submit descriptions (seed 003) as runs: ``submit do_catalogue.sub``.

``executable`` (uploaded with ``transfer_input_files`` and linked into each task's folder, as
HTCondor puts them in the job's scratch folder), ``arguments``, ``request_cpus``, ``request_memory``
and ``output``/``error``/``log`` become a command run (:mod:`.command`) with one task per job of the
``queue`` statement: ``queue``, ``queue N``, ``queue VAR from (...)`` or ``queue VAR from FILE``.
Macros: ``$(Process)``/``$(ProcId)`` is the task's 0-based ``{index}``, ``$(Cluster)``/``$(ClusterId)``
the run id, the queue variable (``$(arguments)``, say) the task's ``{arg}``, any other submit key
its value. ``output`` and ``error`` receive the program's standard output and error; ``log`` is
the task's record of execution, the recorder's profile log; ``environment`` (the quoted syntax) is
the tasks' env. What a Skaha session has no equivalent for (``requirements``, another universe) is
refused naming the line.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import RunConfig, check_run_config
from srcnet_tui.core.runs.kinds.command import CommandKind
from srcnet_tui.core.skaha_rules import ENV_NAME_PATTERN

SUPPORTED = (
    "executable", "arguments", "output", "error", "log", "request_cpus", "request_memory", "request_disk",
    "transfer_input_files", "universe", "container_image", "docker_image", "should_transfer_files",
    "when_to_transfer_output", "transfer_executable", "notification", "getenv", "environment",
)  # fmt: skip
IGNORED = ("request_disk", "should_transfer_files", "when_to_transfer_output", "notification", "getenv")
"""Keys that change nothing on Skaha: a session's disk is the platform's, outputs stay in its folder."""
UNIVERSES = ("vanilla", "docker", "container")
_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")
_QUEUE = re.compile(r"queue(?:\s+(\d+))?(?:\s+([A-Za-z_][A-Za-z0-9_]*)\s+from\s+(.*))?", re.IGNORECASE | re.DOTALL)
_MEMORY = re.compile(r"([0-9.]+)\s*([KMGT]?)B?", re.IGNORECASE)
MIB_PER_UNIT = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}  # HTCondor's request_memory is MiB without a unit


@dataclass(frozen=True)
class Submission:
    """A submit description read from a file: the run it becomes (its job files go back next to the
    file, by :func:`srcnet_tui.core.runs.collecting.deliver_job_files`)."""

    config: RunConfig


class _Lines:
    """The submit file's logical lines (continuations joined), each with the number it starts on."""

    def __init__(self, path: Path):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read ({exc})") from None
        self.lines: list[tuple[int, str]] = []
        pending, start = "", 0
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            start = start if pending else number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            self.lines.append((start, pending + line))
            pending = ""

    def error(self, number: int, message: str) -> UsageError:
        return UsageError(f"{self.path.name} line {number}: {message}", key=f"line {number}")


def read_submit_file(path: Path, vos_dir: str, image: str | None = None) -> Submission:
    """The run a submit description asks for, writing under ``vos_dir``; ``image`` when the file names none."""
    path = path.resolve()
    lines = _Lines(path)
    keys: dict[str, tuple[int, str]] = {}
    queue: tuple[int, str] | None = None
    for position, (number, line) in enumerate(lines.lines):
        if line.lower().startswith("queue"):
            queue = (number, " ".join(text for _, text in lines.lines[position:]))
            break
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep:
            raise lines.error(number, f"expected KEY = VALUE or queue, not {line!r}")
        if key not in SUPPORTED:
            raise lines.error(number, f"{key}: has no Skaha equivalent (supported: {', '.join(SUPPORTED)})")
        keys[key] = (number, value.strip())
    if queue is None:
        raise UsageError(f"{path.name}: no queue statement (nothing would run)")
    variable, items = _queue(lines, path, *queue)
    return _submission(lines, path, keys, variable, items, vos_dir, image)


def _queue(lines: _Lines, path: Path, number: int, text: str) -> tuple[str, list[str]]:
    """The queue variable and one value per job (``queue N``: N jobs and no variable)."""
    match = _QUEUE.fullmatch(text.strip())
    if not match:
        raise lines.error(number, f"unsupported queue statement {text.strip()!r} (queue, queue N, queue VAR from (...) or FILE)")
    count, variable, source = match.groups()
    if variable is None:
        return "", [""] * int(count or 1)
    source = source.strip()
    if source.startswith("("):
        if not source.endswith(")"):
            raise lines.error(number, "queue ... from ( has no closing )")
        items = source[1:-1].split()
    else:
        listing = (path.parent / source).resolve()
        if not listing.is_file():
            raise lines.error(number, f"queue from {source}: no such file {listing}")
        items = [line.strip() for line in listing.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not items:
        raise lines.error(number, "the queue statement lists no jobs")
    return variable.lower(), items * int(count or 1)


def _submission(
    lines: _Lines, path: Path, keys: dict[str, tuple[int, str]], variable: str, items: list[str], vos_dir: str, image: str | None
) -> Submission:
    def value(key: str, default: str = "") -> str:
        number, text = keys.get(key, (0, default))
        return _macros(lines, number, text, keys, variable)

    universe_line, universe = keys.get("universe", (0, "vanilla"))
    if universe.lower() not in UNIVERSES:
        raise lines.error(universe_line, f"universe {universe}: only {', '.join(UNIVERSES)} jobs run as Skaha sessions")
    executable = value("executable")
    if not executable:
        raise UsageError(f"{path.name}: executable is required")
    container = value("container_image") or value("docker_image") or image
    if not container:
        raise UsageError(f"{path.name}: names no container_image; give the image the jobs run in with --image")
    transfer = value("transfer_executable", "true").lower() != "false"
    inputs = [item.strip() for item in value("transfer_input_files").split(",") if item.strip()]
    argv = [f"./{Path(executable).name}" if transfer else executable, *shlex.split(value("arguments"))]
    if variable == "arguments" and "arguments" not in keys:
        argv.append("{arg}")
    values = {
        "kind": "command",
        "vos_dir": vos_dir,
        "image": container,
        "name": re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")[:40] or "condor",
        "command": shlex.join(argv),
        "cores": value("request_cpus", "1"),
        "ram": str(_ram_gib(lines, keys)),
        "inputs": ", ".join(([executable] if transfer else []) + inputs),
    }
    job_files = {"stdout": value("output"), "stderr": value("error"), "profile_log": value("log")}
    values.update({key: name for key, name in job_files.items() if name})
    config = check_run_config(path, "condor", "parallel", values)
    env = _environment(lines, keys.get("environment", (0, ""))[0], value("environment"))
    config = replace(config, workload="condor", arguments=tuple(items), env=env, at_least=frozenset({"cores", "ram"}))
    return Submission(config)


def _macros(lines: _Lines, number: int, text: str, keys: dict[str, tuple[int, str]], variable: str) -> str:
    """``text`` as a template of the command kind: ``$(NAME)`` macros resolved, other braces literal."""
    text = text.replace("{", "{{").replace("}", "}}")

    def resolve(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if name in ("process", "procid"):
            return "{index}"
        if name in ("cluster", "clusterid"):
            return "{run_id}"
        if variable and name == variable:
            return "{arg}"
        if name in keys and name != variable:
            return _macros(lines, keys[name][0], keys[name][1], {k: v for k, v in keys.items() if k != name}, variable)
        raise lines.error(
            number, f"$({match.group(1)}) is not a macro srcnet-tui knows (Process, Cluster, the queue variable, a key)"
        )

    return _MACRO.sub(resolve, text)


def _environment(lines: _Lines, number: int, text: str) -> dict[str, str]:
    """HTCondor's ``environment = "NAME=value NAME2='a b'"`` (the quoted syntax; spaces separate entries)."""
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    env = {}
    for entry in shlex.split(text):
        name, sep, value = entry.partition("=")
        if not sep or not ENV_NAME_PATTERN.fullmatch(name):
            raise lines.error(number, f"environment: expected NAME=VALUE entries, not {entry!r}")
        env[name] = value
    return env


def _ram_gib(lines: _Lines, keys: dict[str, tuple[int, str]]) -> int:
    number, text = keys.get("request_memory", (0, "1 GB"))
    match = _MEMORY.fullmatch(text.strip())
    if not match:
        raise lines.error(number, f"request_memory: not a memory amount: {text!r}")
    return max(1, math.ceil(float(match.group(1)) * MIB_PER_UNIT[match.group(2).upper()] / 1024))


KIND = CommandKind("condor")
