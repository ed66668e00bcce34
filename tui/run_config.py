"""Editing a run's ``config.ini`` from the Runs pane, through core's own validation.

The values being typed are checked in memory by core (:func:`core.runs.config.check_run_config`),
as if they were the section of the real file, so errors name that file, section and key. Saving
rewrites only the edited section's ``key = value`` lines and keeps every other line of the file as
it was.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.runs.config import SECTION_FOR_KIND, RunConfig, check_run_config, load_run_config

EDITABLE = (
    "vos_dir", "image_file", "parameter_file", "parameter_file_dir", "logs_dir", "profile_log",
    "image", "name", "cores", "ram", "gpus", "env", "interval", "finder", "split", "overlap",
    "region_max_gb", "max_parallel",
)  # fmt: skip
_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*[=:]")


def value_text(value: object) -> str:
    """A described value as the user would type it into the file."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass
class ConfigDraft:
    """The section being edited: what the file says, and what the user has changed."""

    path: Path
    kind: str
    section: str
    values: dict[str, str] = field(default_factory=dict)
    """Keys written explicitly (the file's, plus edits); a key absent here takes its default."""
    shown: dict[str, tuple[str, str]] = field(default_factory=dict)
    """key -> (effective value, note) from core's description, for the form."""
    saved: dict[str, str] = field(default_factory=dict)
    """The section as the file holds it (what ``values`` started from)."""

    @property
    def edited(self) -> bool:
        """Has the user changed something the file does not hold yet?"""
        return self.values != self.saved


def sections_of(text: str) -> list[str]:
    """The section names of a config file's text, in order."""
    return [m.group(1).strip() for line in text.splitlines() if (m := _HEADER.match(line))]


def section_to_edit(path: Path, kind: str) -> str:
    """The kind's own section (``[sofia-parallel]``) when the file has it, else its only section."""
    try:
        found = sections_of(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        found = []  # load_run_config says what is wrong with the file
    default = SECTION_FOR_KIND[kind]
    if default in found or len(found) != 1:
        return default
    return found[0]


def open_draft(path: Path, kind: str, section: str | None = None) -> tuple[ConfigDraft, RunConfig]:
    """Load ``[section]`` of ``path`` for ``kind`` (task or parallel); UsageError/NotFound name what is wrong."""
    config = load_run_config(path, section=section or section_to_edit(Path(path).expanduser(), kind), kind=kind)
    draft = ConfigDraft(config.path, kind, config.section)
    describe(draft, config)
    draft.saved = read_section(draft.path.read_text(), draft.section)
    draft.values = dict(draft.saved)
    return draft, config


def describe(draft: ConfigDraft, config: RunConfig) -> None:
    draft.shown = {key: (value_text(value), note) for key, value, note in config.describe() if key in EDITABLE}


def section_lines(values: dict[str, str]) -> list[str]:
    return [f"{key} = {value}" for key, value in values.items() if value.strip()]


def check_draft(draft: ConfigDraft) -> RunConfig:
    """Validate the draft's values with core, as the section of its file, and refresh what the form shows."""
    config = check_run_config(draft.path, draft.section, draft.kind, draft.values)
    describe(draft, config)
    return config


def _section_spans(lines: list[str], section: str) -> tuple[int, int] | None:
    """``(first, end)`` line indexes of ``[section]``'s body, trailing blank lines excluded."""
    start = next((i + 1 for i, line in enumerate(lines) if (m := _HEADER.match(line)) and m.group(1).strip() == section), None)
    if start is None:
        return None
    end = next((i for i in range(start, len(lines)) if _HEADER.match(lines[i])), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return start, end


def read_section(text: str, section: str) -> dict[str, str]:
    """The ``key = value`` lines of ``[section]`` as written (what the form shows and saves back)."""
    lines = text.splitlines()
    span = _section_spans(lines, section)
    values: dict[str, str] = {}
    for line in lines[span[0] : span[1]] if span else []:
        match = _KEY_LINE.match(line)
        if match:
            values[match.group(1).lower()] = line[match.end() :].strip()
    return values


def rewrite_section(text: str, section: str, values: dict[str, str]) -> str:
    """``text`` with ``[section]``'s key lines replaced by ``values`` (comments and other sections kept)."""
    lines = text.splitlines()
    span = _section_spans(lines, section)
    if span is None:
        return "\n".join([*lines, "", f"[{section}]", *section_lines(values)]) + "\n"
    start, end = span
    kept = [line for line in lines[start:end] if not _KEY_LINE.match(line)]
    return "\n".join([*lines[:start], *kept, *section_lines(values), *lines[end:]]) + "\n"


def save_draft(draft: ConfigDraft) -> None:
    """Write the edited section back into the config file, atomically."""
    text = draft.path.read_text() if draft.path.exists() else ""
    temporary = draft.path.with_name(f".{draft.path.name}.srcnet-tui-save")
    temporary.write_text(rewrite_section(text, draft.section, draft.values))
    os.replace(temporary, draft.path)
    draft.saved = dict(draft.values)
