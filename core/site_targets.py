"""Which sites a several-site listing asks (``--site all`` or ``--site a,b``), resolved once for the CLI and the TUI.

Each named site's settings are resolved as the rest of the tool resolves them; a site whose entry
cannot be resolved (a token file that cannot be read, say) or that has no usable credential is set
apart with the reason, so the caller can name it and ask the others. Cheap to import (no HTTP client):
the TUI calls it before its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from srcnet_tui.core import sites
from srcnet_tui.core.credentials import credential_status
from srcnet_tui.core.errors import AuthError, SrcnetError
from srcnet_tui.core.settings import Settings, known_sites, resolve


@dataclass(frozen=True)
class SiteTargets:
    """The sites to ask, and those that cannot be asked as configured."""

    reachable: list[Settings] = field(default_factory=list)
    broken: dict[str, SrcnetError] = field(default_factory=dict)
    """Sites whose entry cannot be resolved: the error, one line."""
    uncredentialed: dict[str, str] = field(default_factory=dict)
    """Sites without a usable credential (none, or expired): the problem."""

    def credential_errors(self) -> dict[str, SrcnetError]:
        """Each uncredentialed site's problem as the error (exit 3) asking it would raise."""
        return {name: AuthError(problem) for name, problem in self.uncredentialed.items()}

    def not_asked(self) -> dict[str, str]:
        """One line per site that is not asked, saying why."""
        return {name: str(error) for name, error in self.broken.items()} | {
            name: f"skipped ({problem})" for name, problem in self.uncredentialed.items()
        }


def site_settings(chosen: str, state_dir: str | Path | None) -> SiteTargets:
    """The settings of each site ``chosen`` (``all`` or ``a,b``) names, the state folder ``state_dir`` for all."""
    reachable: list[Settings] = []
    broken: dict[str, SrcnetError] = {}
    uncredentialed: dict[str, str] = {}
    for entry in sites.several(known_sites(), chosen):
        try:
            resolved = resolve(state_dir=None if state_dir is None else str(state_dir), site=entry.name)
        except SrcnetError as exc:
            broken[entry.name] = exc
            continue
        problem = credential_status(resolved).problem
        if problem:
            uncredentialed[entry.name] = problem
        else:
            reachable.append(resolved)
    return SiteTargets(reachable, broken, uncredentialed)
