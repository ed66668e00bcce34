"""Planning and the checks before a run is recorded: what would fail is refused first (exit 2).

A run is recorded in the ledger only once its plan exists and nothing in it would be refused: the
platform must accept every task's launch request, inputs already on /arc must exist, the local
results folder must be writable, and a credential that would expire mid-run is worth a warning.
A refusal names the config file, section and key that set the offending value.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from srcnet_tui.core.connect import open_client
from srcnet_tui.core.credentials import credential_status
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import RunConfig, is_storage_path, load_run_config
from srcnet_tui.core.runs.fits import CubeShape, read_cube_shape, read_cube_shape_from
from srcnet_tui.core.runs.plan import Plan, plan_run, task_label
from srcnet_tui.core.runs.sizing import gib
from srcnet_tui.core.runs.spec import TaskSpec
from srcnet_tui.core.runs.storage import LocalArc, Storage, open_storage
from srcnet_tui.core.settings import Settings
from srcnet_tui.core.skaha import LaunchSpec, SkahaClient, validate_spec

CONFIG_KEYS_OF_SPEC_FIELDS = ("image", "name", "cores", "ram", "gpus", "env")
"""Launch fields set straight from the config key of the same name (a refusal names that key)."""
LONG_RUN_S = 24 * 3600


def load_config(path: str | Path, kind: str, section: str | None = None) -> RunConfig:
    return load_run_config(path, section=section, kind=kind)


def make_plan(config: RunConfig, run_id: str, storage: Storage, context: dict | None = None) -> Plan:
    """The plan of a run on ``storage``'s site (its storage paths resolved there); a cube already on
    storage has its header read through it (this blocks)."""
    config = config.on_site(storage.on_site)

    def read_header(path: str) -> CubeShape:
        try:
            return read_cube_header(storage, path)
        except UsageError as exc:
            raise UsageError(f"{config.where('image_file')}: {exc}") from None

    return plan_run(config, run_id, context=context, read_header=read_header)


def read_cube_header(storage: Storage, path: str) -> CubeShape:
    if not is_storage_path(path):
        return read_cube_shape(path)
    if isinstance(storage, LocalArc):
        return read_cube_shape(storage.local_path(path))
    stream = storage.open_read(path)
    try:
        return read_cube_shape_from(stream, path)
    finally:
        stream.close()


def local_results_dir(config: RunConfig, state_dir: Path, run_id: str) -> Path:
    """Where a run's products come back to: ``logs_dir/RUN_ID`` or ``<state_dir>/runs/RUN_ID``."""
    base = Path(config.logs_dir) if config.logs_dir else Path(state_dir) / "runs"
    return base / run_id


def refuse_unwritable_results_dir(config: RunConfig, state_dir: Path) -> None:
    """The results folder must be creatable and writable before anything is recorded or launched,
    not found unusable when the first finished task's log comes back."""
    folder = local_results_dir(config, state_dir, "run").parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    problem = "is not a folder" if not existing.is_dir() else "is not writable"
    where = config.where("logs_dir") if config.logs_dir else f"state folder {state_dir}"
    raise UsageError(f"{where}: cannot keep results in {folder}: {existing} {problem}")


async def first_refusal(client: SkahaClient, specs: list[LaunchSpec]) -> tuple[int, UsageError] | None:
    """The first spec the platform would refuse (its position, and why), checked here before sending."""
    registries, context = await asyncio.gather(client.registries(), client.context())
    for position, spec in enumerate(specs):
        try:
            validate_spec(spec, registries, context)
        except UsageError as exc:
            return position, exc
    return None


async def refuse_what_would_fail(plan: Plan, client: SkahaClient, storage: Storage) -> None:
    """Before a run is recorded: every task must be acceptable to the platform, and every input
    already on /arc must exist. One error naming the config file, section and key (exit 2)."""
    refusal = await first_refusal(client, [task.launch_spec() for task in plan.tasks])
    if refusal:
        position, exc = refusal
        raise _config_refusal(plan.config, plan.tasks[position], str(exc))
    await asyncio.to_thread(_refuse_missing_arc_inputs, plan.config, storage)


def _config_refusal(config: RunConfig, task: TaskSpec, text: str) -> UsageError:
    """A launch refusal in terms of the config key that set the field, else of the task."""
    field = text.split(":", 1)[0].split(" ", 1)[0]
    if field in CONFIG_KEYS_OF_SPEC_FIELDS:
        return config.error(field, text[len(field) :].lstrip(": "))
    return UsageError(f"{task_label(task.index)} ({task.name}): {text}")


def _refuse_missing_arc_inputs(config: RunConfig, storage: Storage) -> None:
    for key in ("image_file", "parameter_file"):
        path = getattr(config, key)
        if path and is_storage_path(path) and not storage.is_file(path):
            raise config.error(key, f"no such file: {path} ({storage.describe(path)})")


def credential_warning(settings: Settings, expected_s: float = LONG_RUN_S) -> str | None:
    """A warning about a certificate or token that would expire before a run of ``expected_s`` ends."""
    status = credential_status(settings)
    if status.problem is not None or status.seconds_left is None or status.seconds_left >= expected_s:
        return None
    expires = f" ({status.expires_at:%Y-%m-%d %H:%M} UTC)" if status.expires_at else ""
    return (
        f"warning: the {status.kind} credential expires in {status.seconds_left / 3600:.1f} h{expires}, "
        "possibly before this run ends; renew it (cadc-get-cert) to keep staging and collecting working"
    )


def free_bytes(storage: Storage, path: str) -> int | None:
    """Free space where ``path`` is stored, when the storage can tell (the local backend's /arc can)."""
    if not isinstance(storage, LocalArc):
        return None
    folder = storage.local_path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def refuse_oversized(plan: Plan, storage: Storage) -> None:
    """A run whose estimated products exceed ``max_output_gb`` or the storage's free space is refused, with the numbers."""
    estimate, config = plan.estimate, plan.config
    if estimate is None:
        return
    if config.max_output_gb is not None and estimate.total_gib > config.max_output_gb:
        raise config.error(
            "max_output_gb",
            f"the run would write about {gib(estimate.total_bytes)}, above {config.max_output_gb:g} GiB ({estimate.basis})",
        )
    free = free_bytes(storage, plan.output_dir)
    if free is not None and estimate.total_bytes > free:
        raise config.error(
            "vos_dir",
            f"the run would write about {gib(estimate.total_bytes)}, but {config.vos_dir} has {gib(free)} free ({estimate.basis})",
        )


async def checked_plan(config: RunConfig, run_id: str, client: SkahaClient, storage: Storage, state_dir: Path) -> Plan:
    """The plan of a run, with every check the run makes before it is recorded: the platform's
    resource options (defaults fitted, RAM rounded), its launch rules (image, GPUs), the /arc
    inputs, the estimated products against the limit and the free space, and the results folder.
    What a real run and ``--dry-run`` both call."""
    plan = await asyncio.to_thread(make_plan, config, run_id, storage, await client.context())
    await refuse_what_would_fail(plan, client, storage)
    await asyncio.to_thread(refuse_oversized, plan, storage)
    await asyncio.to_thread(refuse_unwritable_results_dir, config, state_dir)
    return plan


async def dry_run_plan(settings: Settings, config: RunConfig) -> Plan:
    """The plan a run would launch, with a placeholder id; nothing is recorded, staged or created."""
    async with open_client(settings) as client:
        return await checked_plan(config, "dry-run", client, open_storage(settings), settings.state_dir)
