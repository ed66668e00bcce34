"""Editing a run's ``config.ini`` from the Runs pane, through core's own validation.

The values being typed are checked in memory by core (:func:`srcnet_tui.core.runs.config.check_run_config`),
as if they were the section of the real file, so errors name that file, section and key. Reading
and saving are core's (:func:`srcnet_tui.core.runs.config.read_section`, :func:`srcnet_tui.core.runs.config.update_section`):
a save rewrites only the keys the user changed and keeps every other line of the file as it was.

The form shows the keys of the section's workload kind (:func:`form_keys`): a finder's cube and
parameter files, or a command's program, arguments, inputs, products and output files.

Core's config reader is imported by the calls that use it, not with this module: the Runs pane
draws its first frame without it (it brings configupdater and the recorder's psutil).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from srcnet_tui.core.errors import SrcnetError

if TYPE_CHECKING:
    from srcnet_tui.core.runs.config import RunConfig


def form_keys(workload: str) -> tuple[str, ...]:
    """The form's fields for a section of ``workload``, in the order of core's table of config keys."""
    from srcnet_tui.core.runs.config import CONFIG_KEYS

    return tuple(key.name for key in CONFIG_KEYS if key.in_form_for(workload))


def value_text(value: object) -> str:
    """A described value as the user would type it into the file."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def field_text(value: str) -> str:
    """A value on the form's one line: one continued over several lines in the file (an ``env``
    list, one entry a line) shows its lines separated by commas, as the file may also write them."""
    return ", ".join(stripped for line in value.splitlines() if (stripped := line.strip().rstrip(",").strip()))


@dataclass
class ConfigDraft:
    """The section being edited: what the file says, and what the user has changed."""

    path: Path
    kind: str
    section: str
    keys: tuple[str, ...] = ()
    """The form's fields: the keys of the section's workload kind (:func:`form_keys`)."""
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

    def field_value(self, key: str) -> str:
        """What the form's field for ``key`` shows."""
        return field_text(self.values.get(key, ""))

    def set_field(self, key: str, text: str) -> None:
        """The user's text for ``key``; the field's unchanged text keeps the file's value as written."""
        text = text.strip()
        if not text:
            self.values.pop(key, None)
        elif key in self.saved and text == field_text(self.saved[key]):
            self.values[key] = self.saved[key]
        else:
            self.values[key] = text


def section_to_edit(path: Path, kind: str) -> str:
    """The kind's own section (``[sofia-parallel]``) when the file has it, else its only section."""
    from srcnet_tui.core.runs.config import SECTION_FOR_KIND, config_sections

    try:
        found = config_sections(path)
    except SrcnetError:
        found = []  # load_run_config says what is wrong with the file
    default = SECTION_FOR_KIND[kind]
    if default in found or len(found) != 1:
        return default
    return found[0]


def open_draft(path: Path, kind: str, section: str | None = None) -> tuple[ConfigDraft, RunConfig]:
    """Load ``[section]`` of ``path`` for ``kind`` (task or parallel); UsageError/NotFound name what is wrong."""
    from srcnet_tui.core.runs.config import load_run_config, read_section

    config = load_run_config(path, section=section or section_to_edit(Path(path).expanduser(), kind), kind=kind)
    draft = ConfigDraft(config.path, kind, config.section, form_keys(config.workload))
    describe(draft, config)
    draft.saved = read_section(draft.path, draft.section)
    draft.values = dict(draft.saved)
    return draft, config


def describe(draft: ConfigDraft, config: RunConfig) -> None:
    draft.shown = {key: (value_text(value), note) for key, value, note in config.describe() if key in draft.keys}


def check_draft(draft: ConfigDraft) -> RunConfig:
    """Validate the draft's values with core, as the section of its file, and refresh what the form shows."""
    from srcnet_tui.core.runs.config import check_run_config

    config = check_run_config(draft.path, draft.section, draft.kind, draft.values)
    describe(draft, config)
    return config


def save_draft(draft: ConfigDraft) -> None:
    """Write the edited section back into the config file (atomically; other lines as they were)."""
    from srcnet_tui.core.runs.config import update_section

    update_section(draft.path, draft.section, draft.values)
    draft.saved = dict(draft.values)
