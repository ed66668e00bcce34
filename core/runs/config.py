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

Paths: a path written as ``/arc/...`` names the same file on both backends and stays as written;
any other path is a local input (or, for ``logs_dir``, a local destination) and resolves against
the folder that holds the config file.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from configupdater import ConfigUpdater, Option, Section

from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.skaha_rules import ENV_NAME_PATTERN, NAME_PREFIX_PATTERN

DEFAULT_IMAGE = "images.canfar.net/srcnet/sofia-task:2.6.0"
"""The SoFiA-2 task container built from ``image/`` (its tag follows the pinned SoFiA-2 release)."""

SECTION_FOR_KIND = {"task": "sofia-task", "parallel": "sofia-parallel"}
DEFAULT_CORES = {"task": 2, "parallel": 8}
DEFAULT_RAM_GB = {"task": 8, "parallel": 32}
DEFAULT_PROFILE_LOG = "sofia_profile.txt"
DEFAULT_INTERVAL_S = 1.0
FINDERS = ("sofia", "bdsf")

DEFAULT_OVERLAP = 65
"""Pixels (spatial) and channels (spectral) shared by neighbouring split regions.

Team SoFiA's SKA SDC2 run cut its 5851 × 5851 × 6668 cube with 65 pixels and 65 channels of
overlap (workloads.md §4.4); HI-FRIENDS used 40, s2p_setup defaults to 256 for WALLABY's larger
galaxies. The overlap must exceed the largest source expected, otherwise a source cut by one
region's edge is not seen whole by its neighbour and the merge cannot recover it; 65 is the proven
middle ground. Raise it for nearby, extended sources.
"""

DEFAULT_REGION_MAX_GB = 12.0
"""Largest region (GiB of voxels) an automatic split aims for: SDC2 used ~11.8 GB regions in 27 GB of RAM."""

ARC_PREFIX = "/arc/"
_GRID_RE = re.compile(r"(\d+),(\d+),(\d+)")
_SIZE_RE = re.compile(r"(\d+)x(\d+)x(\d+)")


def is_arc_path(path: str) -> bool:
    """True for paths on the shared ``/arc`` filesystem, which mean the same file on both backends."""
    return path == "/arc" or path.startswith(ARC_PREFIX)


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
    vos_dir: str
    image_file: str
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
    interval: float
    finder: str
    split: SplitSpec | None
    overlap: tuple[int, int]  # (spatial pixels, spectral channels)
    region_max_gb: float
    max_parallel: int | None
    defaulted: frozenset[str] = field(default_factory=frozenset)
    fitted: Mapping[str, int] = field(default_factory=dict)
    """Keys the user did not write whose default the platform does not offer: key -> that default."""

    def where(self, key: str) -> str:
        """The prefix every message about ``key`` starts with: ``config.ini [section] key``."""
        return _where(self.path, self.section, key)

    def error(self, key: str, message: str) -> UsageError:
        """The error to raise about ``key``: ``config.ini [section] key: message``, carrying ``key``."""
        return _key_error(self.path, self.section, key, message)

    def fitted_to(self, values: Mapping[str, int]) -> RunConfig:
        """This config with the defaulted keys of ``values`` set to what the platform offers instead."""
        unwritten = {key: value for key, value in values.items() if key in self.defaulted}
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

    def _value(self, key: ConfigKey) -> Any:
        if not key.applies(self):
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
        if is_arc_path(text):
            return text.rstrip("/") or "/"
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


def _text(r: _Reader, key: str, text: str) -> str:
    return text


def _local_path(must_exist: str | None) -> Callable[[_Reader, str, str], str]:
    return lambda r, key, text: r.local_path(key, text, must_exist=must_exist)


def _vos_dir(r: _Reader, key: str, text: str) -> str:
    if text.startswith("arc:"):
        text = "/arc/" + text[len("arc:") :].lstrip("/")
    if not is_arc_path(text):
        raise r.error(key, f"must be a folder under /arc/ (the sessions see it there), not {text!r}")
    return text.rstrip("/")


def _profile_log(r: _Reader, key: str, text: str) -> str:
    """A local file path (resolved like every other path); each task writes a log of its name."""
    if text.endswith("/") or Path(text).name in ("", ".", ".."):
        raise r.error(key, f"must name a file, not {text!r}")
    if is_arc_path(text):
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
        if "=" in value:
            raise r.error(key, f"{name}: a value may not contain '=' (Skaha drops such entries)")
        env[name] = value
    return env


def _finder(r: _Reader, key: str, text: str) -> str:
    finder = text.lower()
    if finder not in FINDERS:
        raise r.error(key, f"must be one of {', '.join(FINDERS)}, not {finder!r}")
    return finder


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

    @property
    def attribute(self) -> str:
        return self.field_name or self.name

    @property
    def editable(self) -> bool:
        """Shown in the TUI's form."""
        return not self.ignored


CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("vos_dir", "required", "folder under `/arc/` the run writes to (`arc:...` also accepted)", _vos_dir,
              required=_constant("is required")),
    ConfigKey("image_file", "required", "the cube to search: `/arc/...`, or a local file (uploaded)", _local_path("file"),
              required=_constant("is required")),
    ConfigKey("parameter_file", "required (task; parallel with `split`)",
              "finder parameter file; with `split`, the template every region runs", _local_path("file"),
              required=_parameter_file_missing, applies=_uses_one_parameter_file),
    ConfigKey("parameter_file_dir", "required (parallel without `split`)", "folder of `*.par` files, one task each",
              _local_path("dir"), required=_constant("is required"), applies=lambda r: not _uses_one_parameter_file(r)),
    ConfigKey("logs_dir", "`<state_dir>/runs`", "local folder each run's results come back to, in `RUN_ID/`", _local_path(None),
              note=_constant("default: the run folder")),
    ConfigKey("profile_log", f"`{DEFAULT_PROFILE_LOG}`",
              "recorder log: each task's log is also put at this path (numbered when there are several tasks)", _profile_log,
              default=_constant(DEFAULT_PROFILE_LOG)),
    ConfigKey("image", f"`{DEFAULT_IMAGE}`", "task container (see `image/`)", _image, default=_constant(DEFAULT_IMAGE)),
    ConfigKey("name", "from the section", "session name prefix", _name, default=_name_from_section),
    ConfigKey("cores", f"{DEFAULT_CORES['task']} (task), {DEFAULT_CORES['parallel']} (parallel)",
              "cores per task; also `pipeline.threads`", _integer(1), default=lambda r: DEFAULT_CORES[r.kind]),
    ConfigKey("ram", f"{DEFAULT_RAM_GB['task']} (task), {DEFAULT_RAM_GB['parallel']} (parallel); split runs: computed", "GB per task",
              _integer(1), default=lambda r: None if r.get("split") else DEFAULT_RAM_GB[r.kind], note=_ram_note,
              field_name="ram_gb"),
    ConfigKey("gpus", "0", "GPUs per task", _integer(0), default=_constant(0)),
    ConfigKey("env", "none", "`env = KEY=VALUE, ...` (or one a line), set in every task", _env, default=lambda r: {}),
    ConfigKey("interval", f"{DEFAULT_INTERVAL_S}", "recorder sampling interval, seconds", _positive_number,
              default=_constant(DEFAULT_INTERVAL_S)),
    ConfigKey("finder", f"`{FINDERS[0]}`", " or ".join(f"`{f}`" for f in FINDERS), _finder, default=_constant(FINDERS[0])),
    ConfigKey("split", "none",
              "`auto`, `NX,NY,NZ` (grid), or a region size `SXxSYxSZ`: split the cube from its FITS header",
              _split, note=_constant("default: no split")),
    ConfigKey("overlap", f"{DEFAULT_OVERLAP}", "pixels (`spatial,spectral` also accepted), as in SDC2 practice", _overlap,
              default=_constant((DEFAULT_OVERLAP, DEFAULT_OVERLAP))),
    ConfigKey("region_max_gb", f"{DEFAULT_REGION_MAX_GB}", "largest region `split = auto` cuts", _positive_number,
              default=_constant(DEFAULT_REGION_MAX_GB)),
    ConfigKey("max_parallel", "no cap", "tasks running at once; the platform schedules the rest", _integer(1),
              note=_constant("default: no cap, the platform schedules")),
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
    except (configparser.Error, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0]
        raise UsageError(f"{path.name}: not a valid configuration file ({first_line})") from None
    return parser


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
