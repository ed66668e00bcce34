"""Workload kinds: what the tasks of a run are, one module per kind.

A run is a list of :class:`~srcnet_tui.core.runs.spec.TaskSpec`; everything after planning — the
ledger, staging, launching, watching, collection, usage, resume and ``run.json`` — is shared and
reads only those. A kind decides the tasks (their command lines, env and resources), names their
products and, when it can, estimates how much they will write. Adding a kind is one module here
exposing ``KIND`` (a :class:`WorkloadKind`) and one line in :data:`KIND_MODULES`.
"""

from __future__ import annotations

import getpass
import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from srcnet_tui.core.runs.plan import Plan, TaskBuilder

KIND_MODULES = {
    "sofia": "srcnet_tui.core.runs.kinds.sofia",
    "bdsf": "srcnet_tui.core.runs.kinds.bdsf",
    "command": "srcnet_tui.core.runs.kinds.command",
    "k8s": "srcnet_tui.core.runs.kinds.k8s",
    "condor": "srcnet_tui.core.runs.kinds.condor",
}
"""Every workload kind and the module that plans it."""


class WorkloadKind(Protocol):
    """Plans the tasks of one kind of workload."""

    name: str

    def plan(self, builder: TaskBuilder) -> Plan:
        """The run's tasks, built with ``builder`` (which holds the checked config and the platform's options)."""
        ...


def kind_for(name: str) -> WorkloadKind:
    """The kind called ``name`` (one of :data:`KIND_MODULES`)."""
    kind: WorkloadKind = importlib.import_module(KIND_MODULES[name]).KIND
    return kind


def default_vos_dir() -> str:
    """Where a workload file's run writes when nothing says (``submit`` without ``--vos-dir``, the TUI): the user's home on /arc."""
    return f"/arc/home/{getpass.getuser()}/srcnet-runs"
