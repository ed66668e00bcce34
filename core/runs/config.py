"""Read a run's configuration — the seed's ``config.ini``, extended — into one checked object.

The seed scripts hard-coded the image, cores, RAM and concurrency, and failed late (or not at
all) on bad values. Here the seed's sections work unchanged, every new key has a default the user
can see (``describe()`` feeds ``--dry-run``), every value is checked once, and every error is one
line naming the file, the section and the key (and carries the key, ``UsageError.key``, for forms).

One table, :data:`CONFIG_KEYS`, says what each key means, how its text is read and what it
defaults to; the parser, ``describe()``, the README's key table (:func:`markdown_key_table`) and
the TUI's form all follow it.

Configparser is the one reader of these files. An editor (the TUI's Runs pane) saves through
:func:`update_section`, which uses configupdater to find each key's lines and rewrites only the
lines of the keys that changed, so the user's comments, continuation lines and key order survive.

Paths: a path written as ``/arc/...`` or ``/cavern/...`` is a storage path — a file on the run's
site, not here — and stays as written until :meth:`RunConfig.on_site` resolves it against that
site's storage root; any other path is a local input (or, for ``logs_dir``, a local destination)
and resolves against the folder that holds the config file.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from configupdater import ConfigUpdater, Option, Section

from srcnet_tui.core import sites
from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.environment import ENV_PRESETS, read_env_file, secrets_file_problem
from srcnet_tui.core.skaha_rules import ENV_NAME_PATTERN, NAME_PREFIX_PATTERN
from srcnet_tui.core.task.recorder import MAX_INTERVAL_S, MIN_INTERVAL_S

DEFAULT_IMAGE = "images.canfar.net/srcnet/sofia-task:2.5.0"
DEFAULT_IMAGES = {"sofia": DEFAULT_IMAGE, "bdsf": "images.canfar.net/srcnet/bdsf-task:1.14.1"}
"""Each finder's own image (image/Dockerfile, image/bdsf.Dockerfile): the finder is in it."""
"""The SoFiA-2 task container built from ``image/`` (its tag follows the pinned SoFiA-2 release)."""

SECTION_FOR_KIND = {"task": "sofia-task", "parallel": "sofia-parallel"}
DEFAULT_CORES = {"task": 2, "parallel": 8}
DEFAULT_RAM_GB = {"task": 8, "parallel": 32}
DEFAULT_PROFILE_LOG = "sofia_profile.txt"
COMMAND_PROFILE_LOG = "profile.txt"
DEFAULT_INTERVAL_S = 1.0
FINDERS = ("sofia", "bdsf")
WORKLOADS = (*FINDERS, "command")
"""The workload kinds a config.ini section can name (``submit`` adds ``k8s`` and ``condor``)."""
COMMAND_WORKLOADS = ("command", "k8s", "condor")
"""Kinds whose tasks run a program of the user's: the command keys apply to them."""
DEFAULT_STDOUT, DEFAULT_STDERR = "{task}.out", "{task}.err"

DEFAULT_OVERLAP = 65
"""Pixels (spatial) and channels (spectral) shared by neighbouring split regions.

Team SoFiA's SKA SDC2 run cut its 5851 × 5851 × 6668 cube with 65 pixels and 65 channels of
overlap (workloads.md §4.4); HI-FRIENDS used 40, s2p_setup defaults to 256 for WALLABY's larger
galaxies. The overlap must exceed the largest source expected, otherwise a source cut by one
region's edge is not seen whole by its neighbour and the merge cannot recover it; 65 is the proven
middle ground when nothing says more: a split SoFiA-2 run without ``overlap`` takes it from its
parameter file, whose ``linker.maxSize*`` bound the largest source it can link
(:func:`srcnet_tui.core.runs.split.overlap_from_parameters`).
"""

DEFAULT_REGION_MAX_GB = 12.0
"""Largest region (GiB of voxels) an automatic split aims for: SDC2 used ~11.8 GB regions in 27 GB of RAM."""

ARC_PREFIX = "/arc/"
_GRID_RE = re.compile(r"(\d+),(\d+),(\d+)")
_SIZE_RE = re.compile(r"(\d+)x(\d+)x(\d+)")


def is_arc_path(path: str) -> bool:
    """True for paths on the shared ``/arc`` filesystem, which mean the same file on both backends."""
    return path == "/arc" or path.startswith(ARC_PREFIX)


def is_storage_path(path: str) -> bool:
    """True for paths on a site's storage (``/arc/...``, ``/cavern/...``), which name no file of this machine."""
    return sites.split_storage_path(path)[0] is not None


STORAGE_PATH_KEYS = ("vos_dir", "image_file", "parameter_file", "inputs")
"""The keys whose values may be storage paths, resolved against the run's site by :meth:`RunConfig.on_site`."""


@dataclass(frozen=True)
class SplitSpec:
    """How to cut a cube: ``auto`` (from the region size limit), a grid of counts, or a region size."""

    mode: str  # "auto" | "grid" | "size"
    values: tuple[int, int, int] | None = None

    def __str__(self) -> str:
        if self.values is None:
            return "auto"
        return ("," if self.mode == "grid" else "x").join(map(str, self.values))


@dataclass(frozen=True)
class RunConfig:
    """One section of a run configuration, checked, with every default filled in."""

    path: Path
    section: str
    kind: str  # "task" | "parallel"
    workload: str  # the workload kind: "sofia" | "bdsf" | "command" (| "k8s" | "condor", from submit)
    vos_dir: str
    image_file: str | None  # None: not a finder run
    parameter_file: str | None
    parameter_file_dir: str | None
    logs_dir: str | None
    profile_log: str
    cmd_file: str | None
    image: str
    name: str
    cores: int
    ram_gb: int | None  # None: computed from the region size (split runs)
    gpus: int
    env: dict[str, str]
    env_file: str | None
    env_preset: str | None
    secret_env: tuple[str, ...]
    secrets_file: str | None
    interval: float
    finder: str
    command: tuple[str, ...] | None  # kind = command: the argv, templates unexpanded
    arguments: tuple[str, ...] | None
    arguments_file: str | None
    products: tuple[str, ...]
    inputs: tuple[str, ...]
    keep: tuple[str, ...]
    remove: tuple[str, ...]
    stdout: str | None
    stderr: str | None
    split: SplitSpec | None
    overlap: tuple[int, int]  # (spatial pixels, spectral channels)
    region_max_gb: float
    max_parallel: int | None
    max_output_gb: float | None
    defaulted: frozenset[str] = field(default_factory=frozenset)
    fitted: Mapping[str, int] = field(default_factory=dict)
    """Keys the user did not write whose default the platform does not offer: key -> that default."""
    at_least: frozenset[str] = field(default_factory=frozenset)
    """Resource keys whose value is a minimum (a Job's or an HTCondor request): rounded up to what is offered."""

    @property
    def task_env(self) -> dict[str, str]:
        """Every task's env (secrets aside): the preset, then the env file, then ``env``, each overriding the one before."""
        preset = ENV_PRESETS[self.env_preset] if self.env_preset else {}
        return {**preset, **(_env_file_entries(self.env_file, self.error) if self.env_file else {}), **self.env}

    def where(self, key: str) -> str:
        """The prefix every message about ``key`` starts with: ``config.ini [section] key``."""
        return _where(self.path, self.section, key)

    def error(self, key: str, message: str) -> UsageError:
        """The error to raise about ``key``: ``config.ini [section] key: message``, carrying ``key``."""
        return _key_error(self.path, self.section, key, message)

    def on_site(self, storage_path: Callable[[str], str]) -> RunConfig:
        """This config with its storage paths where the run's site has them (``storage_path``: the site's
        :meth:`srcnet_tui.core.settings.Settings.storage_path`); a path the site does not have is refused
        naming the key."""
        changes: dict[str, Any] = {}
        for key in STORAGE_PATH_KEYS:
            value = getattr(self, key)
            if isinstance(value, tuple):
                changes[key] = tuple(self._on_site(key, item, storage_path) for item in value)
            elif value:
                changes[key] = self._on_site(key, value, storage_path)
        return replace(self, **changes)

    def _on_site(self, key: str, path: str, storage_path: Callable[[str], str]) -> str:
        if not is_storage_path(path):
            return path
        try:
            return storage_path(path)
        except UsageError as exc:
            raise self.error(key, str(exc)) from None

    def fitted_to(self, values: Mapping[str, int]) -> RunConfig:
        """This config with the defaulted (or minimum) keys of ``values`` set to what the platform offers instead."""
        unwritten = {key: value for key, value in values.items() if key in self.defaulted | self.at_least}
        changes: dict[str, Any] = {KEYS_BY_NAME[key].attribute: value for key, value in unwritten.items()}
        return replace(
            self,
            **changes,
            fitted={**self.fitted, **{key: getattr(self, KEYS_BY_NAME[key].attribute) for key in unwritten}},
        )

    def to_dict(self) -> dict:
        """Every effective setting, JSON-ready (for ``run.json`` and ``--dry-run --json``)."""
        return {
            "file": str(self.path),
            "section": self.section,
            "kind": self.kind,
            "settings": {key: value for key, value, _ in self.describe()},
            "defaults": sorted(self.defaulted),
            "fitted": dict(self.fitted),
        }

    def describe(self) -> list[tuple[str, object, str]]:
        """(key, value, note) rows for ``--dry-run``, in table order; the note says when a value is a default."""
        rows: list[tuple[str, object, str]] = []
        for key in CONFIG_KEYS:
            value = getattr(self, key.attribute)
            if not key.for_workload(self.workload):
                continue
            if key.ignored:
                if value:
                    rows.append((key.name, value, key.ignored))
            else:
                rows.append((key.name, _shown(value), self._note(key)))
        return rows

    def _note(self, key: ConfigKey) -> str:
        if key.name in self.fitted:
            return f"default {self.fitted[key.name]} is not offered: the platform's largest below it"
        return key.note(self) if key.name in self.defaulted else ""


def _where(path: Path, section: str, key: str) -> str:
    return f"{path.name} [{section}] {key}"


def _key_error(path: Path, section: str, key: str, message: str) -> UsageError:
    """``config.ini [section] key: message``, carrying ``key`` so that a form can mark the field."""
    return UsageError(f"{_where(path, section, key)}: {message}", key=key)


def _shown(value: object) -> object:
    """A setting as ``--dry-run`` and ``run.json`` show it (JSON-ready)."""
    if isinstance(value, SplitSpec):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


class _Reader:
    """Reads one section's keys through the table, each once; every error names file, section and key."""

    def __init__(self, path: Path, section: str, kind: str, values: dict[str, str]):
        self.path = path
        self.section = section
        self.kind = kind
        self.values = values
        self.read: dict[str, Any] = {}
        self.defaulted: set[str] = set()

    def error(self, key: str, message: str) -> UsageError:
        return _key_error(self.path, self.section, key, message)

    def get(self, name: str) -> Any:
        """The checked value of key ``name`` (its default when unset); read on first use."""
        if name not in self.read:
            self.read[name] = self._value(KEYS_BY_NAME[name])
        return self.read[name]

    @property
    def workload(self) -> str:
        return str(self.get("kind"))

    def _value(self, key: ConfigKey) -> Any:
        if (key.workloads and not key.for_workload(self.workload)) or not key.applies(self):
            return None
        text = (self.values.get(key.name) or "").strip()
        value = key.parse(self, key.name, text) if text else None
        if value is not None:
            return value
        if key.required and not text:
            raise self.error(key.name, key.required(self))
        self.defaulted.add(key.name)
        return key.default(self)

    def local_path(self, key: str, text: str, *, must_exist: str | None = None) -> str:
        """Resolve a local path against the config's folder; ``must_exist`` is "file" or "dir"."""
        root, rest = sites.split_storage_path(text)
        if root is not None:
            return (root + rest).rstrip("/") or "/"
        path = (self.path.parent / Path(text).expanduser()).resolve()
        if must_exist == "file" and not path.is_file():
            raise self.error(key, f"no such file: {path}")
        if must_exist == "dir" and not path.is_dir():
            raise self.error(key, f"no such folder: {path}")
        return str(path)


def _parsed(text: str, kind: type):
    """``kind(text)``, or None when the text is not one."""
    try:
        return kind(text)
    except ValueError:
        return None


def _integer(minimum: int) -> Callable[[_Reader, str, str], int]:
    def parse(r: _Reader, key: str, text: str) -> int:
        number = _parsed(text, int)
        if number is None or number < minimum:
            kind = "a positive integer" if minimum >= 1 else "an integer ≥ 0"
            raise r.error(key, f"must be {kind}, not {text!r}")
        return number

    return parse


def _positive_number(r: _Reader, key: str, text: str) -> float:
    number = _parsed(text, float)
    if number is None or not 0 < number < float("inf"):
        raise r.error(key, f"must be a positive number, not {text!r}")
    return number


def _interval(r: _Reader, key: str, text: str) -> float:
    seconds = _parsed(text, float)
    if seconds is None or not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise r.error(key, f"must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds, not {text!r}")
    return seconds


def _text(r: _Reader, key: str, text: str) -> str:
    return text


def _local_path(must_exist: str | None) -> Callable[[_Reader, str, str], str]:
    return lambda r, key, text: r.local_path(key, text, must_exist=must_exist)


def _vos_dir(r: _Reader, key: str, text: str) -> str:
    root, rest = sites.split_storage_path(text)
    if root is None:
        raise r.error(key, f"must be a folder under /arc/ or /cavern/ (the sessions see it there), not {text!r}")
    return (root + rest).rstrip("/")


def _profile_log(r: _Reader, key: str, text: str) -> str:
    """A local file path (resolved like every other path); each task writes a log of its name."""
    if text.endswith("/") or Path(text).name in ("", ".", ".."):
        raise r.error(key, f"must name a file, not {text!r}")
    if is_storage_path(text):
        raise r.error(key, f"must be a local path (where the run puts the profile log), not {text!r}")
    return r.local_path(key, text)


def _image(r: _Reader, key: str, text: str) -> str:
    if any(ch.isspace() for ch in text) or "/" not in text:
        raise r.error(key, f"must be a registry image like {DEFAULT_IMAGE}, not {text!r}")
    return text


def _name(r: _Reader, key: str, text: str) -> str:
    name = text.lower()
    if not NAME_PREFIX_PATTERN.fullmatch(name) or len(name) > 40:
        raise r.error(key, f"must be 1-40 letters, digits or '-' (a Skaha session name prefix), not {text!r}")
    return name


def _name_from_section(r: _Reader) -> str:
    return re.sub(r"[^a-z0-9]+", "-", r.section.lower()).strip("-") or "srcnet"


def _env(r: _Reader, key: str, text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in re.split(r"[,\n]", text):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not ENV_NAME_PATTERN.fullmatch(name):
            raise r.error(key, f"entries must be KEY=VALUE, not {item!r}")
        env[name] = value
    return _checked_env(r.error, key, env)


def _checked_env(error: Callable[[str, str], UsageError], key: str, entries: dict[str, str]) -> dict[str, str]:
    for name, value in entries.items():
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise error(key, f"{name!r} is not an environment variable name")
        if "=" in value:
            raise error(key, f"{name}: a value may not contain '=' (Skaha drops such entries)")
    return entries


def _env_file_entries(path: str, error: Callable[[str, str], UsageError]) -> dict[str, str]:
    """The entries of the ``env_file`` at ``path``, checked; ``error`` makes the config error naming the key."""
    try:
        return _checked_env(error, "env_file", read_env_file(Path(path)))
    except (OSError, ValueError) as exc:
        raise error("env_file", str(exc)) from None


def _env_file(r: _Reader, key: str, text: str) -> str:
    path = r.local_path(key, text, must_exist="file")
    _env_file_entries(path, r.error)
    return path


def _env_preset(r: _Reader, key: str, text: str) -> str:
    if text not in ENV_PRESETS:
        raise r.error(key, f"must be one of {', '.join(ENV_PRESETS)}, not {text!r}")
    return text


def _secret_env(r: _Reader, key: str, text: str) -> tuple[str, ...]:
    names = _globs(r, key, text)
    for name in names:
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise r.error(key, f"{name!r} is not an environment variable name")
    return names


def _secrets_file(r: _Reader, key: str, text: str) -> str:
    path = r.local_path(key, text, must_exist="file")
    problem = secrets_file_problem(Path(path))
    if problem:
        raise r.error(key, f"{path} {problem}")
    return path


def _finder(r: _Reader, key: str, text: str) -> str:
    finder = text.lower()
    if finder not in FINDERS:
        raise r.error(key, f"must be one of {', '.join(FINDERS)}, not {finder!r}")
    if r.workload != finder:
        raise r.error(key, f"{finder} conflicts with kind = {r.workload}")
    return finder


def _kind(r: _Reader, key: str, text: str) -> str:
    kind = text.lower()
    if kind not in WORKLOADS:
        raise r.error(key, f"must be one of {', '.join(WORKLOADS)}, not {kind!r}")
    return kind


def _kind_default(r: _Reader) -> str:
    """Without ``kind``, the finder says what runs (the seed's sections run SoFiA-2)."""
    finder = (r.values.get("finder") or "").strip().lower()
    return finder if finder in FINDERS else FINDERS[0]


def _image_default(r: _Reader) -> str:
    if r.workload not in FINDERS:
        raise r.error("image", f"is required for kind = {r.workload} (the container the command runs in)")
    return DEFAULT_IMAGES[r.workload]


def _command(r: _Reader, key: str, text: str) -> tuple[str, ...]:
    """The argv, split as a POSIX shell would split words (quotes group) but never given to a shell."""
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise r.error(key, f"cannot be split into arguments ({exc}): {text!r}") from None
    if not argv:
        raise r.error(key, "is empty")
    return argv


def _arguments(r: _Reader, key: str, text: str) -> tuple[str, ...]:
    if (r.values.get("arguments_file") or "").strip():
        raise r.error(key, "give either arguments or arguments_file, not both")
    return _command(r, key, text)


def _arguments_file(r: _Reader, key: str, text: str) -> str:
    return r.local_path(key, text, must_exist="file")


def _globs(r: _Reader, key: str, text: str) -> tuple[str, ...]:
    return tuple(item for item in re.split(r"[,\s]+", text) if item)


def _inputs(r: _Reader, key: str, text: str) -> tuple[str, ...]:
    return tuple(r.local_path(key, item, must_exist="file") for item in _globs(r, key, text))


def _file_name(r: _Reader, key: str, text: str) -> str:
    """A file name inside the task's folder (templates allowed), never a path."""
    if "/" in text or text in (".", ".."):
        raise r.error(key, f"must be a file name (it is written in the task's folder), not {text!r}")
    return text


def _split(r: _Reader, key: str, text: str) -> SplitSpec | None:
    """None (no split, as if unset) for ``no``/``none``/``off``/``false``."""
    if text.lower() in ("no", "none", "off", "false"):
        return None
    spec = _split_spec(r, key, text)
    if r.kind != "parallel":
        raise r.error(key, "splitting a cube needs the parallel command")
    return spec


def _split_spec(r: _Reader, key: str, text: str) -> SplitSpec:
    compact = text.lower().replace(" ", "")
    if compact == "auto":
        return SplitSpec("auto")
    for mode, pattern in (("grid", _GRID_RE), ("size", _SIZE_RE)):
        match = pattern.fullmatch(compact)
        if match:
            a, b, c = (int(v) for v in match.groups())
            if min(a, b, c) < 1:
                raise r.error(key, f"every number must be at least 1, not {text!r}")
            return SplitSpec(mode, (a, b, c))
    raise r.error(key, f"must be auto, NX,NY,NZ (regions per axis) or SXxSYxSZ (region size in pixels), not {text!r}")


def _overlap(r: _Reader, key: str, text: str) -> tuple[int, int]:
    numbers = [_parsed(part.strip(), int) for part in text.split(",")]
    if len(numbers) not in (1, 2) or any(n is None or n < 0 for n in numbers):
        raise r.error(key, f"must be PIXELS or SPATIAL,SPECTRAL (integers ≥ 0), not {text!r}")
    return (numbers[0], numbers[-1])


def _uses_one_parameter_file(r: _Reader) -> bool:
    """The task runs one parameter file, a split run one template; parallel runs a folder of them."""
    return r.kind == "task" or r.get("split") is not None


def _parameter_file_missing(r: _Reader) -> str:
    return "is required" if r.kind == "task" else "is required with split (the template every region runs)"


def _constant(value: object) -> Callable[[Any], Any]:
    """A default (or note) that depends on nothing."""
    return lambda _: value


_NO_VALUE = _constant(None)
_ALWAYS = _constant(True)
_DEFAULT_NOTE = _constant("default")


def _ram_note(config: RunConfig) -> str:
    return "default: computed from the region size" if config.split else "default"


def _overlap_note(config: RunConfig) -> str:
    if config.split and config.workload == "sofia":
        return "default: from the parameter file (the plan says how)"
    return "default"


@dataclass(frozen=True)
class ConfigKey:
    """One key of a run section: what it means, how its text is read, and its default.

    ``parse(reader, key, text)`` checks a non-empty value (returning None means "as if unset");
    ``default(reader)`` gives the value when unset; ``required(reader)``, when given, is the error
    for an unset key instead; a key that does not ``apply`` to the run is None and never read.
    """

    name: str
    default_text: str  # the default, as the README's key table says it
    meaning: str
    parse: Callable[[_Reader, str, str], Any]
    default: Callable[[_Reader], Any] = _NO_VALUE
    required: Callable[[_Reader], str] | None = None
    applies: Callable[[_Reader], bool] = _ALWAYS
    note: Callable[[RunConfig], str] = _DEFAULT_NOTE  # what --dry-run says next to the default
    ignored: str = ""  # why the key is read but not used (listed only when set; not in the form)
    field_name: str = ""  # the RunConfig field, when it is not the key's name
    workloads: tuple[str, ...] = ()  # the workload kinds the key belongs to (empty: every kind)
    in_form: bool = True  # False: not in the TUI's form (the workload kind, the secrets file, the output limit)

    def for_workload(self, workload: str) -> bool:
        return not self.workloads or workload in self.workloads

    def in_form_for(self, workload: str) -> bool:
        """A field of the TUI's form of a section of this workload kind (a command's keys, not a finder's)."""
        return self.editable and self.for_workload(workload)

    @property
    def attribute(self) -> str:
        return self.field_name or self.name

    @property
    def editable(self) -> bool:
        """Shown in the TUI's form."""
        return not self.ignored and self.in_form


CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("kind", "from `finder`", "workload: `sofia`, `bdsf` or `command` (any program, one task per argument)", _kind,
              default=_kind_default, field_name="workload", in_form=False),
    ConfigKey("vos_dir", "required", "folder on the site's storage the run writes to: `/arc/...` (`arc:...`) or `/cavern/...`", _vos_dir,
              required=_constant("is required")),
    ConfigKey("image_file", "required (finders)", "the cube to search: `/arc/...`, or a local file (uploaded)", _local_path("file"),
              required=_constant("is required"), workloads=FINDERS),
    ConfigKey("parameter_file", "required (task; parallel with `split`)",
              "finder parameter file; with `split`, the template every region runs", _local_path("file"),
              required=_parameter_file_missing, applies=_uses_one_parameter_file, workloads=FINDERS),
    ConfigKey("parameter_file_dir", "required (parallel without `split`)", "folder of `*.par` files, one task each",
              _local_path("dir"), required=_constant("is required"), applies=lambda r: not _uses_one_parameter_file(r),
              workloads=FINDERS),
    ConfigKey("logs_dir", "`<state_dir>/runs`", "local folder each run's results come back to, in `RUN_ID/`", _local_path(None),
              note=_constant("default: the run folder")),
    ConfigKey("profile_log", f"`{DEFAULT_PROFILE_LOG}` (finders), `{COMMAND_PROFILE_LOG}`",
              "recorder log: each task's log is also put at this path (numbered when there are several tasks)", _profile_log,
              default=lambda r: DEFAULT_PROFILE_LOG if r.workload in FINDERS else COMMAND_PROFILE_LOG),
    ConfigKey("image", f"`{DEFAULT_IMAGE}` (sofia), `{DEFAULT_IMAGES['bdsf']}` (bdsf); required (command)", "task container (see `image/`)", _image,
              default=_image_default),
    ConfigKey("name", "from the section", "session name prefix", _name, default=_name_from_section),
    ConfigKey("cores", f"{DEFAULT_CORES['task']} (task), {DEFAULT_CORES['parallel']} (parallel)",
              "cores per task; also `pipeline.threads`", _integer(1), default=lambda r: DEFAULT_CORES[r.kind]),
    ConfigKey("ram", f"{DEFAULT_RAM_GB['task']} (task), {DEFAULT_RAM_GB['parallel']} (parallel); split runs: computed", "GiB per task",
              _integer(1), default=lambda r: None if r.get("split") else DEFAULT_RAM_GB[r.kind], note=_ram_note,
              field_name="ram_gb"),
    ConfigKey("gpus", "0", "GPUs per task", _integer(0), default=_constant(0)),
    ConfigKey("env", "none", "`env = KEY=VALUE, ...` (or one a line), set in every task", _env, default=lambda r: {}),
    ConfigKey("env_file", "none", "file of `KEY=VALUE` lines set in every task (`env` overrides them)", _env_file),
    ConfigKey("env_preset", "none", f"shipped env entries: {', '.join(f'`{name}`' for name in ENV_PRESETS)} (seed 002's Dask settings)",
              _env_preset),
    ConfigKey("secret_env", "none", "`NAME, ...`: secrets read from `secrets_file` (else the caller's environment) when a "
              "task is launched; only their names are kept", _secret_env, default=lambda r: ()),
    ConfigKey("secrets_file", "none (the environment)", "`KEY=VALUE` file of the secrets, mode 0600 (else refused)", _secrets_file, in_form=False),
    ConfigKey("interval", f"{DEFAULT_INTERVAL_S}", f"recorder sampling interval, {MIN_INTERVAL_S:g} to {MAX_INTERVAL_S:g} seconds",
              _interval,
              default=_constant(DEFAULT_INTERVAL_S)),
    ConfigKey("finder", "from `kind`, else `sofia`", " or ".join(f"`{f}`" for f in FINDERS), _finder,
              default=lambda r: r.workload, workloads=FINDERS),
    ConfigKey("command", "required (command)",
              "the program and its arguments, split like shell words but run without a shell; templates `{run_id}` `{task}` "
              "`{index}` `{arg}` `{timestamp}`", _command, required=_constant("is required for kind = command"),
              workloads=COMMAND_WORKLOADS),
    ConfigKey("arguments", "none (one task)", "`a b c`: one task per argument (`{arg}`), like HTCondor's `queue arguments from`",
              _arguments, workloads=COMMAND_WORKLOADS),
    ConfigKey("arguments_file", "none", "file of arguments, one a line (`#` comments): one task each", _arguments_file,
              workloads=COMMAND_WORKLOADS),
    ConfigKey("products", "every file but cubes", "globs of the files each task writes that come back (templates allowed)",
              _globs, default=lambda r: (), workloads=COMMAND_WORKLOADS),
    ConfigKey("inputs", "none", "local files (uploaded) or `/arc` paths put in each task's folder before it starts, "
              "like HTCondor's `transfer_input_files`", _inputs, default=lambda r: (), workloads=COMMAND_WORKLOADS),
    ConfigKey("keep", "the kind's policy", "`clean`: globs of products to keep whatever the policy says (wins over `remove`)",
              _globs, default=lambda r: ()),
    ConfigKey("remove", "the kind's policy", "`clean`: globs of products to remove whatever the policy says", _globs,
              default=lambda r: ()),
    ConfigKey("stdout", f"`{DEFAULT_STDOUT}`", "file in the task's folder that receives the command's standard output",
              _file_name, default=_constant(DEFAULT_STDOUT), workloads=COMMAND_WORKLOADS),
    ConfigKey("stderr", f"`{DEFAULT_STDERR}`", "file in the task's folder that receives its standard error", _file_name,
              default=_constant(DEFAULT_STDERR), workloads=COMMAND_WORKLOADS),
    ConfigKey("split", "none",
              "`auto`, `NX,NY,NZ` (grid), or a region size `SXxSYxSZ`: split the cube from its FITS header",
              _split, note=_constant("default: no split"), workloads=FINDERS),
    ConfigKey("overlap", f"split SoFiA-2: from the parameter file; else {DEFAULT_OVERLAP}",
              "pixels (`spatial,spectral` also accepted): at least the largest source, as in SDC2 practice", _overlap,
              default=_constant((DEFAULT_OVERLAP, DEFAULT_OVERLAP)), note=_overlap_note, workloads=FINDERS),
    ConfigKey("region_max_gb", f"{DEFAULT_REGION_MAX_GB}", "largest region `split = auto` cuts", _positive_number,
              default=_constant(DEFAULT_REGION_MAX_GB), workloads=FINDERS),
    ConfigKey("max_parallel", "no cap", "tasks running at once; the platform schedules the rest", _integer(1),
              note=_constant("default: no cap, the platform schedules")),
    ConfigKey("max_output_gb", "no limit", "refuse a run whose estimated products (`--dry-run` shows them) exceed this many GiB",
              _positive_number, note=_constant("default: no limit (the storage's free space still is)"), in_form=False),
    ConfigKey("cmd_file", "none", "the seed's shell script: ignored, tasks run without a shell", _text,
              ignored="ignored: tasks run without a shell script"),
)  # fmt: skip
"""Every key a run section may hold, in the order ``--dry-run``, the README and the TUI's form list them."""

KEYS_BY_NAME = {key.name: key for key in CONFIG_KEYS}


def markdown_key_table() -> str:
    """The README's table of config keys, rendered from :data:`CONFIG_KEYS`."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    rows += [f"| `{key.name}` | {key.default_text} | {key.meaning} |" for key in CONFIG_KEYS]
    return "\n".join(rows) + "\n"


def load_run_config(path: str | Path, section: str | None = None, kind: str = "task") -> RunConfig:
    """Read ``section`` (default ``[sofia-task]`` or ``[sofia-parallel]`` by ``kind``) of ``path``."""
    _check_kind(kind)
    path = Path(path).expanduser().resolve()
    section = section or SECTION_FOR_KIND[kind]
    return check_run_config(path, section, kind, read_section(path, section))


def check_run_config(path: str | Path, section: str, kind: str, values: dict[str, str]) -> RunConfig:
    """Check ``values`` as if they were ``[section]`` of ``path``, without reading or writing the file.

    What an editor calls while the user types: relative paths resolve against ``path``'s folder and
    every error names ``path``, ``section`` and the key exactly as :func:`load_run_config` does.
    """
    _check_kind(kind)
    path = Path(path).expanduser().resolve()
    values = {key.strip().lower(): value for key, value in values.items()}
    reader = _Reader(path, section, kind, values)
    unknown = sorted(set(values) - set(KEYS_BY_NAME))
    if unknown:
        raise reader.error(unknown[0], f"unknown key (known keys: {', '.join(sorted(KEYS_BY_NAME))})")
    settings = {key.attribute: reader.get(key.name) for key in CONFIG_KEYS}
    ignored = {key.name for key in CONFIG_KEYS if key.ignored}
    return RunConfig(path, section, kind, **settings, defaulted=frozenset(reader.defaulted - ignored))


def _check_kind(kind: str) -> None:
    if kind not in SECTION_FOR_KIND:
        raise ValueError(f"kind must be 'task' or 'parallel', not {kind!r}")


def _parsed_file(path: Path) -> configparser.ConfigParser:
    """``path`` read by configparser (the one reader of config files); errors name the file."""
    if not path.is_file():
        raise NotFound(f"{path}: no such configuration file")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise _parse_error(path, exc) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path.name}: not a valid configuration file (not UTF-8 text at byte {exc.start})") from None
    return parser


def _parse_error(path: Path, exc: configparser.Error) -> UsageError:
    """configparser's complaint as one line of ours: file, section, key and line, without Python reprs."""
    if isinstance(exc, configparser.DuplicateOptionError):
        return _key_error(path, exc.section, exc.option, f"is given twice (again on line {exc.lineno}); keep one")
    if isinstance(exc, configparser.DuplicateSectionError):
        return UsageError(f"{path.name} line {exc.lineno}: section [{exc.section}] is given twice; merge them")
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return UsageError(f"{path.name} line {exc.lineno}: {exc.line.strip()!r} comes before any [section]")
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        return UsageError(f"{path.name} line {exc.errors[0][0]}: expected KEY = VALUE (or a [section])")
    return UsageError(f"{path.name}: not a valid configuration file ({exc.message.splitlines()[0]})")


def config_sections(path: str | Path) -> list[str]:
    """The section names of the config file ``path``, in file order."""
    return _parsed_file(Path(path).expanduser()).sections()


def read_section(path: str | Path, section: str) -> dict[str, str]:
    """``[section]`` of ``path`` as configparser reads it: lower-case keys, continued values joined by newlines."""
    path = Path(path).expanduser()
    parser = _parsed_file(path)
    if not parser.has_section(section):
        found = ", ".join(f"[{name}]" for name in parser.sections()) or "none"
        raise UsageError(f"{path.name}: no [{section}] section (sections found: {found})")
    return dict(parser.items(section))


def update_section(path: str | Path, section: str, values: Mapping[str, str]) -> None:
    """Make ``[section]`` of ``path`` hold ``values``, touching only the lines of keys that change.

    A changed key's line (and its continuation lines) is rewritten where it stands, keeping the
    key's spelling and separator; a key missing from ``values`` (or empty there) loses its lines; a
    new key goes after the section's last key. Comments, blank lines, unchanged keys, other
    sections and the file's line endings stay exactly as written. A missing section is appended.
    The file is replaced atomically.
    """
    path = Path(path).expanduser()
    wanted = {key.strip().lower(): value.strip() for key, value in values.items() if value.strip()}
    text = _read_verbatim(path) if path.exists() else ""
    parser = _parsed_file(path) if path.exists() else None
    current = dict(parser.items(section)) if parser and parser.has_section(section) else {}
    document = ConfigUpdater()
    document.read_string(text if text.endswith("\n") or not text else text + "\n")  # a key may follow the last line
    if not document.has_section(section):
        document.add_section(section)
        if text:
            document[section].add_before.space()
    _edit_section(document[section], current, wanted)
    _replace_file(path, _in_the_files_style(str(document), text))


def _edit_section(section: Section, current: dict[str, str], wanted: dict[str, str]) -> None:
    """Rewrite the options of ``section`` whose value changes; add new keys after its last option.

    ``current`` is the section as configparser reads it (with inherited defaults, which a key that
    ``wanted`` merely repeats is not written for).
    """
    options = {option.key.lower(): option for option in section.iter_options()}
    new_keys = [key for key, value in wanted.items() if key not in options and value != current.get(key)]
    after = list(options.values())[-1].container_idx + 1 if options else 0
    for offset, key in enumerate(new_keys):
        section.structure.insert(
            after + offset, Option(key, container=section, line="".join(_key_lines(f"{key} = ", wanted[key])))
        )
    for key, option in options.items():
        if wanted.get(key) == current.get(key):
            continue
        kept_comments = [line for line in option.lines[1:] if line.strip().startswith(("#", ";"))]
        lines = (_key_lines(_key_prefix(option), wanted[key]) if key in wanted else []) + kept_comments
        if lines:
            option.lines[:] = lines  # its own lines: configupdater would respace "key: value" as "key : value"
        else:
            option.detach()


def _key_lines(prefix: str, value: str) -> list[str]:
    """``prefix`` + the value, its further lines indented so that configparser reads them as continuations."""
    first, *rest = value.splitlines() or [""]
    return [f"{prefix}{first}\n", *(f"    {line.strip()}\n" for line in rest if line.strip())]


def _key_prefix(option: Option) -> str:
    """The option's first line up to where its value starts (indentation, key as spelled, separator and spacing)."""
    line = option.lines[0].rstrip()
    first_value = (option.value or "").split("\n")[0]
    return line[: len(line) - len(first_value)] if first_value else f"{line} "


def _in_the_files_style(rendered: str, text: str) -> str:
    """``rendered`` with ``text``'s line endings, and without a final newline when ``text``'s unchanged last line had none."""
    last_line = text.rsplit("\n", 1)[-1]
    if last_line and f"\n{rendered}".endswith(f"\n{last_line}\n"):
        rendered = rendered[:-1]
    if "\r\n" in text:
        rendered = re.sub(r"(?<!\r)\n", "\r\n", rendered)
    return rendered


def _read_verbatim(path: Path) -> str:
    """The file's text with its own line endings (``\\r\\n`` stays ``\\r\\n``)."""
    with path.open(encoding="utf-8", newline="") as file:
        return file.read()


def _replace_file(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.srcnet-save")
    temporary.write_text(text, encoding="utf-8", newline="")
    if path.exists():
        shutil.copymode(path, temporary)
    os.replace(temporary, path)
