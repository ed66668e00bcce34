"""A task's environment: shipped presets, ``KEY=VALUE`` files, and secrets that reach the session only.

Seed 002 exports a set of Dask settings before the Arrakis pipeline starts (``env_preset =
dask-stable`` ships them) and needs database credentials that must never be published. A secret is
named in the plan (``secret_env = MONGO_PASSWORD``) and its value read — from a secrets file only
its owner can read, or from the caller's environment — when the launch request is built
(:meth:`srcnet_tui.core.runs.spec.TaskSpec.launch_spec`), so the ledger, ``run.json``, ``--dry-run``
and ``--json`` hold its name and never its value. Skaha keeps a session's environment in the
session's definition, where the platform's operators can see it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from srcnet_tui.core.errors import UsageError

ENV_PRESETS: dict[str, dict[str, str]] = {
    "dask-stable": {
        # Seed 002: stop completed tasks from being re-run when adaptive workers come and go.
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "0.01",
        "DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING": "True",
        "DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING_INTERVAL": "120s",
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": "3600s",
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "100",
        "DASK_DISTRIBUTED__WORKER__PROFILE__INTERVAL": "10000ms",
        "DASK_DISTRIBUTED__WORKER__PROFILE__CYCLE": "1000000ms",
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "300s",
        "DASK_DISTRIBUTED__COMM__SOCKET_BACKLOG": "16384",
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "300s",
        "DASK_DISTRIBUTED__COMM__RETRY__COUNT": "12",
    },
}
"""Named sets of env entries a config can ask for with ``env_preset``."""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` and surrounding quotes allowed, ``#`` comments); ValueError naming the line."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{path.name} line {number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        entries[name.strip()] = value
    return entries


def secrets_file_problem(path: Path) -> str | None:
    """Why ``path`` may not hold secrets (it must be a file only its owner can read or write); None when fine."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    if not stat.S_ISREG(mode):
        return "is not a file"
    if mode & 0o077:
        return f"is readable by others (mode {stat.S_IMODE(mode):04o}); make it private with chmod 600"
    return None


def resolve_secrets(names: tuple[str, ...], secrets_file: str | None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The values of the secrets ``names``: from ``secrets_file`` when given, else the caller's environment.
    Errors name the secret and where it was looked for, never a value."""
    if not names:
        return {}
    stored: dict[str, str] = {}
    if secrets_file:
        problem = secrets_file_problem(Path(secrets_file))
        if problem:
            raise UsageError(f"secrets file {secrets_file}: {problem}")
        try:
            stored = read_env_file(Path(secrets_file))
        except ValueError as exc:
            raise UsageError(f"secrets file {exc}") from None
    values = {}
    for name in names:
        value = stored.get(name, environ.get(name))
        if value is None:
            where = f"{secrets_file} nor in the environment" if secrets_file else "the environment"
            raise UsageError(f"secret_env {name}: not set in {where}")
        values[name] = value
    return values
