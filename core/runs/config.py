"""Read a run's configuration — the seed's ``config.ini``, extended — into one checked object.

The seed scripts hard-coded the image, cores, RAM and concurrency, and failed late (or not at
all) on bad values. Here the seed's sections work unchanged, every new key has a default the user
can see (``describe()`` feeds ``--dry-run``), every value is checked once, and every error is one
line naming the file, the section and the key.

Configparser is the one reader of these files. An editor (the TUI's Runs pane) saves through
:func:`update_section`, which rewrites only the lines of the keys that changed, so the user's
comments, continuation lines and key order survive a save.

Paths: a path written as ``/arc/...`` names the same file on both backends and stays as written;
any other path is a local input (or, for ``logs_dir``, a local destination) and resolves against
the folder that holds the config file.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from srcnet_tui.core.errors import NotFound, UsageError

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
_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GRID_RE = re.compile(r"(\d+),(\d+),(\d+)")
_SIZE_RE = re.compile(r"(\d+)x(\d+)x(\d+)")

KNOWN_KEYS = {
    "vos_dir", "parameter_file", "image_file", "profile_log", "cmd_file", "parameter_file_dir",
    "logs_dir", "image", "name", "cores", "ram", "gpus", "env", "interval", "finder", "split",
    "overlap", "region_max_gb", "max_parallel",
}  # fmt: skip


def is_arc_path(path: str) -> bool:
    """True for paths on the shared ``/arc`` filesystem, which mean the same file on both backends."""
    return path == "/arc" or path.startswith(ARC_PREFIX)


@dataclass(frozen=True)
class SplitSpec:
    """How to cut a cube: ``auto`` (from the region size limit), a grid of counts, or a region size."""

    mode: str  # "auto" | "grid" | "size"
    values: tuple[int, int, int] | None = None

    def __str__(self) -> str:
        if self.mode == "grid":
            return ",".join(map(str, self.values))
        if self.mode == "size":
            return "x".join(map(str, self.values))
        return "auto"


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

    def where(self, key: str) -> str:
        """The prefix every message about ``key`` starts with: ``config.ini [section] key``."""
        return f"{self.path.name} [{self.section}] {key}"

    def to_dict(self) -> dict:
        """Every effective setting, JSON-ready (for ``run.json`` and ``--dry-run --json``)."""
        return {
            "file": str(self.path),
            "section": self.section,
            "kind": self.kind,
            "settings": {key: value for key, value, _ in self.describe()},
            "defaults": sorted(self.defaulted),
        }

    def describe(self) -> list[tuple[str, object, str]]:
        """(key, value, note) rows for ``--dry-run``; the note says when a value is a default."""
        values = {
            "vos_dir": self.vos_dir,
            "image_file": self.image_file,
            "parameter_file": self.parameter_file,
            "parameter_file_dir": self.parameter_file_dir,
            "logs_dir": self.logs_dir,
            "profile_log": self.profile_log,
            "image": self.image,
            "name": self.name,
            "cores": self.cores,
            "ram": self.ram_gb,
            "gpus": self.gpus,
            "env": dict(self.env),
            "interval": self.interval,
            "finder": self.finder,
            "split": str(self.split) if self.split else None,
            "overlap": list(self.overlap),
            "region_max_gb": self.region_max_gb,
            "max_parallel": self.max_parallel,
        }
        notes = {
            "ram": "default: computed from the region size" if self.split else "default",
            "max_parallel": "default: no cap, the platform schedules",
            "logs_dir": "default: the run folder",
            "split": "default: no split",
        }
        rows = []
        for key, value in values.items():
            note = notes.get(key, "default") if key in self.defaulted else ""
            rows.append((key, value, note))
        if self.cmd_file:
            rows.append(("cmd_file", self.cmd_file, "ignored: tasks run without a shell script"))
        return rows


class _Section:
    """Typed access to one configparser section; every error names file, section and key."""

    def __init__(self, path: Path, section: str, values: dict[str, str]):
        self.path = path
        self.section = section
        self.values = values
        self.defaulted: set[str] = set()

    def error(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.path.name} [{self.section}] {key}: {message}")

    def raw(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or not value.strip():
            self.defaulted.add(key)
            return None
        return value.strip()

    def required(self, key: str) -> str:
        value = self.raw(key)
        if value is None:
            raise self.error(key, "is required")
        self.defaulted.discard(key)
        return value

    def integer(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        text = self.raw(key)
        if text is None:
            return default
        number = _parsed(text, int)
        if number is None or number < minimum:
            kind = "a positive integer" if minimum >= 1 else "an integer ≥ 0"
            raise self.error(key, f"must be {kind}, not {text!r}")
        return number

    def number(self, key: str, default: float) -> float:
        text = self.raw(key)
        if text is None:
            return default
        number = _parsed(text, float)
        if number is None or not 0 < number < float("inf"):
            raise self.error(key, f"must be a positive number, not {text!r}")
        return number

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
    reader = _Section(path, section, values)
    unknown = sorted(set(values) - KNOWN_KEYS)
    if unknown:
        raise reader.error(unknown[0], f"unknown key (known keys: {', '.join(sorted(KNOWN_KEYS))})")
    return _build(reader, kind)


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
    key's spelling; a key missing from ``values`` (or empty there) loses its lines; a new key goes
    after the section's last key. Comments, blank lines, unchanged keys and other sections stay
    exactly as written. A missing section is appended. The file is replaced atomically.
    """
    path = Path(path).expanduser()
    wanted = {key.strip().lower(): value.strip() for key, value in values.items() if value.strip()}
    text = _read_verbatim(path) if path.exists() else ""
    current = _section_values_or_none(path, section) if path.exists() else None
    _replace_file(path, _rewritten(text, section, current, wanted))


def _rewritten(text: str, section: str, current: dict[str, str] | None, wanted: dict[str, str]) -> str:
    lines = list(io.StringIO(text, newline=""))  # split where configparser's reading splits lines
    unterminated = bool(lines) and not lines[-1].endswith("\n")
    if unterminated:
        lines[-1] += "\n"
    last_line = lines[-1] if lines else None
    if current is None:
        lines += _new_section_lines(section, wanted, after_text=bool(lines))
    else:
        lines = _updated_lines(lines, section, current, wanted)
    if unterminated and lines[-1] == last_line:
        lines[-1] = last_line.removesuffix("\n")  # the file's last line stays as it was written
    if "\r\n" in text:  # written lines take the file's line ending
        lines = [line if line.endswith("\r\n") else line.replace("\n", "\r\n") for line in lines]
    return "".join(lines)


def _section_values_or_none(path: Path, section: str) -> dict[str, str] | None:
    parser = _parsed_file(path)
    return dict(parser.items(section)) if parser.has_section(section) else None


def _new_section_lines(section: str, values: dict[str, str], after_text: bool) -> list[str]:
    lines = ["\n"] if after_text else []
    lines.append(f"[{section}]\n")
    for key, value in values.items():
        lines += _key_lines(f"{key} = ", value)
    return lines


def _key_lines(prefix: str, value: str) -> list[str]:
    """``prefix`` + the value, its further lines indented so that configparser reads them as continuations."""
    first, *rest = value.splitlines() or [""]
    return [f"{prefix}{first}\n", *(f"    {line.strip()}\n" for line in rest if line.strip())]


def _updated_lines(lines: list[str], section: str, current: dict[str, str], wanted: dict[str, str]) -> list[str]:
    spans, last_key_end = _key_spans(lines, section)
    replacements: dict[int, tuple[int, list[str]]] = {}
    for key, (start, end) in spans.items():
        if key in wanted and wanted[key] == current.get(key):
            continue
        kept_comments = [line for line in lines[start + 1 : end] if _is_comment(line)]
        new = _key_lines(_key_prefix(lines[start]), wanted[key]) if key in wanted else []
        replacements[start] = (end, new + kept_comments)
    new_keys = {key: value for key, value in wanted.items() if key not in spans and value != current.get(key)}
    added = [line for key, value in new_keys.items() for line in _key_lines(f"{key} = ", value)]
    result: list[str] = []
    index = 0
    while index < len(lines):
        if index in replacements:
            end, new = replacements[index]
            result += new
        else:
            end = index + 1
            result.append(lines[index])
        if end == last_key_end:
            result += added
        index = end
    return result


def _key_spans(lines: list[str], section: str) -> tuple[dict[str, tuple[int, int]], int]:
    """Where each key of ``[section]`` is written: key -> (first line, end) with its continuation lines.

    Follows configparser's reading rules (comment lines are skipped, a line indented deeper than
    its key continues the value). Also gives where a new key goes: after the section's last key,
    or after its header when it has none.
    """
    spans: dict[str, tuple[int, int]] = {}
    in_section = False
    insert_at = 0
    key: str | None = None
    key_indent = 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _is_comment(line):
            continue
        indent = len(line) - len(line.lstrip())
        if key is not None and indent > key_indent:
            if in_section:
                spans[key] = (spans[key][0], index + 1)
                insert_at = index + 1
            continue
        key_indent, key = indent, None
        header = configparser.ConfigParser.SECTCRE.match(stripped)
        if header:
            in_section = header.group("header") == section
            insert_at = index + 1 if in_section else insert_at
            continue
        option = configparser.ConfigParser.OPTCRE.match(stripped)
        if option:
            key = option.group("option").rstrip().lower()
            if in_section:
                spans[key] = (index, index + 1)
                insert_at = index + 1
    return spans, insert_at


def _is_comment(line: str) -> bool:
    return line.strip().startswith(("#", ";"))


def _key_prefix(line: str) -> str:
    """``line`` up to where its value starts (indentation, key as spelled, separator and spacing)."""
    indent = line[: len(line) - len(line.lstrip())]
    stripped = line.strip()
    option = configparser.ConfigParser.OPTCRE.match(stripped)
    return indent + stripped[: option.start("value")] if option.group("value") else f"{indent}{stripped} "


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


def _build(s: _Section, kind: str) -> RunConfig:
    vos_dir = _vos_dir(s)
    finder = (s.raw("finder") or "sofia").lower()
    if finder not in FINDERS:
        raise s.error("finder", f"must be one of {', '.join(FINDERS)}, not {finder!r}")
    split = _split(s, kind)
    image_file = s.required("image_file")
    image_file = s.local_path("image_file", image_file, must_exist="file")
    parameter_file, parameter_file_dir = _parameter_sources(s, kind, split)
    logs_dir = s.raw("logs_dir")
    cmd_file = s.raw("cmd_file")
    return RunConfig(
        path=s.path,
        section=s.section,
        kind=kind,
        vos_dir=vos_dir,
        image_file=image_file,
        parameter_file=parameter_file,
        parameter_file_dir=parameter_file_dir,
        logs_dir=s.local_path("logs_dir", logs_dir) if logs_dir else None,
        profile_log=_file_name(s, "profile_log", s.raw("profile_log") or DEFAULT_PROFILE_LOG),
        cmd_file=cmd_file,
        image=_image(s),
        name=_name(s),
        cores=s.integer("cores", DEFAULT_CORES[kind]),
        ram_gb=s.integer("ram", None if split else DEFAULT_RAM_GB[kind]),
        gpus=s.integer("gpus", 0, minimum=0),
        env=_env(s),
        interval=s.number("interval", DEFAULT_INTERVAL_S),
        finder=finder,
        split=split,
        overlap=_overlap(s),
        region_max_gb=s.number("region_max_gb", DEFAULT_REGION_MAX_GB),
        max_parallel=s.integer("max_parallel", None),
        defaulted=frozenset(s.defaulted - {"cmd_file"}),
    )


def _vos_dir(s: _Section) -> str:
    text = s.required("vos_dir")
    if text.startswith("arc:"):
        text = "/arc/" + text[len("arc:") :].lstrip("/")
    if not is_arc_path(text):
        raise s.error("vos_dir", f"must be a folder under /arc/ (the sessions see it there), not {text!r}")
    return text.rstrip("/")


def _parameter_sources(s: _Section, kind: str, split: SplitSpec | None) -> tuple[str | None, str | None]:
    """The task runs one parameter file; parallel runs a folder of them, or one template when split."""
    if kind == "task" or split:
        text = s.required("parameter_file") if kind == "task" else s.raw("parameter_file")
        if text is None:
            raise s.error("parameter_file", "is required with split (the template every region runs)")
        return s.local_path("parameter_file", text, must_exist="file"), None
    text = s.required("parameter_file_dir")
    return None, s.local_path("parameter_file_dir", text, must_exist="dir")


def _file_name(s: _Section, key: str, text: str) -> str:
    if "/" in text or text in (".", ".."):
        raise s.error(key, f"must be a file name without folders, not {text!r}")
    return text


def _image(s: _Section) -> str:
    image = s.raw("image") or DEFAULT_IMAGE
    if any(ch.isspace() for ch in image) or "/" not in image:
        raise s.error("image", f"must be a registry image like {DEFAULT_IMAGE}, not {image!r}")
    return image


def _name(s: _Section) -> str:
    text = s.raw("name")
    if text is None:
        return re.sub(r"[^a-z0-9]+", "-", s.section.lower()).strip("-") or "srcnet"
    name = text.lower()
    if not _NAME_RE.fullmatch(name) or len(name) > 40:
        raise s.error("name", f"must be 1-40 letters, digits or '-' (a Skaha session name prefix), not {text!r}")
    return name


def _env(s: _Section) -> dict[str, str]:
    text = s.raw("env")
    env: dict[str, str] = {}
    if text is None:
        return env
    for item in re.split(r"[,\n]", text):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _ENV_KEY_RE.fullmatch(key):
            raise s.error("env", f"entries must be KEY=VALUE, not {item!r}")
        if "=" in value:
            raise s.error("env", f"{key}: a value may not contain '=' (Skaha drops such entries)")
        env[key] = value
    return env


def _split(s: _Section, kind: str) -> SplitSpec | None:
    text = s.raw("split")
    if text is None or text.lower() in ("no", "none", "off", "false"):
        s.defaulted.add("split")
        return None
    spec = _split_spec(s, text)
    if kind != "parallel":
        raise s.error("split", "splitting a cube needs the parallel command")
    return spec


def _split_spec(s: _Section, text: str) -> SplitSpec:
    compact = text.lower().replace(" ", "")
    if compact == "auto":
        return SplitSpec("auto")
    for mode, pattern in (("grid", _GRID_RE), ("size", _SIZE_RE)):
        match = pattern.fullmatch(compact)
        if match:
            values = tuple(int(v) for v in match.groups())
            if min(values) < 1:
                raise s.error("split", f"every number must be at least 1, not {text!r}")
            return SplitSpec(mode, values)
    raise s.error("split", f"must be auto, NX,NY,NZ (regions per axis) or SXxSYxSZ (region size in pixels), not {text!r}")


def _overlap(s: _Section) -> tuple[int, int]:
    text = s.raw("overlap")
    if text is None:
        return (DEFAULT_OVERLAP, DEFAULT_OVERLAP)
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or min(numbers) < 0:
        raise s.error("overlap", f"must be PIXELS or SPATIAL,SPECTRAL (integers ≥ 0), not {text!r}")
    return (numbers[0], numbers[-1])
