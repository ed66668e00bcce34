"""What this machine offers, in Skaha's vocabulary: /context, /image, /repository, and create validation.

The option lists are Skaha's shipped chart lists cut down to this machine's capacity, and a create
request is checked against them with the server's own error texts (reference/skaha-api.md §3.5), so
a client that works against the local server meets the same refusals on CANFAR.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import psutil

from srcnet_tui.core.skaha_rules import (
    CHART_DEFAULT_LIMIT,
    CHART_RAM_GIB,
    DEFAULT_REGISTRIES,
    FLEX_REQUEST,
    NAME_PATTERN,
    SESSION_TYPES,
    bytes_to_gib,
    from_registry,
    split_args,
    split_env,
    stored_name,
)

IMAGES: tuple[dict[str, Any], ...] = (
    {"id": "images.canfar.net/srcnet/sofia-task:2.5.0", "types": ["headless"]},
    {"id": "images.canfar.net/srcnet/bdsf-task:1.14.1", "types": ["headless"]},
    {"id": "images.canfar.net/skaha/terminal:1.1.2", "types": ["headless"]},
    {"id": "images.canfar.net/skaha/astroml:24.10", "types": ["headless"]},
)


MAX_INTERACTIVE_SESSIONS = 5  # the chart's maxCount: Pending+Running interactive sessions per user
INTERACTIVE_EXPIRY_S = 4 * 24 * 3600.0  # the chart's sessionexpiry for interactive kinds
IDLE_ARGS = ("-c", "import signal\nwhile True: signal.pause()")
"""What an interactive session runs (with this Python) when it names no command: in effect a server
waiting for a browser that never comes, until it is deleted or expires."""


class BadRequest(Exception):
    """A request Skaha would refuse with 400; the message is the response body."""


@dataclass(frozen=True)
class Capacity:
    """Cores and memory (GiB) that sessions on this machine may hold at once."""

    cores: int
    ram_gb: float

    @classmethod
    def of_this_machine(cls, cores: int | None = None, ram_gb: float | None = None) -> Capacity:
        return cls(int(cores or _usable_cpus()), float(ram_gb or bytes_to_gib(psutil.virtual_memory().total)))

    @property
    def core_options(self) -> list[int]:
        return list(range(1, self.cores + 1))

    @property
    def ram_options(self) -> list[int]:
        return [gib for gib in CHART_RAM_GIB if gib <= self.ram_gb] or [1]

    def default_limit(self, kind: str) -> int:
        """The ceiling of a flexible session (context ``defaultLimit``): the chart's, cut to this machine's options."""
        options = self.core_options if kind == "cores" else self.ram_options
        return min(CHART_DEFAULT_LIMIT[kind], options[-1])

    def flexible(self, kind: str) -> float:
        """What an omitted ``cores``/``ram`` holds while running (clamped to what exists here)."""
        ceiling = self.cores if kind == "cores" else self.ram_gb
        return min(FLEX_REQUEST[kind], ceiling)


def _usable_cpus() -> int:
    """CPUs this process may run on (a cpuset on a shared node can be fewer than os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass
class LaunchRequest:
    """A validated create request."""

    name: str
    image: str
    type: str
    cmd: str
    args: list[str] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)
    cores: float | None = None
    ram: float | None = None
    gpus: int | None = None


def context_document(capacity: Capacity) -> dict:
    cores, ram = capacity.core_options, capacity.ram_options
    return {
        "cores": {
            "default": min(2, cores[-1]),
            "defaultRequest": 1,
            "defaultLimit": capacity.default_limit("cores"),
            "options": cores,
        },
        "memoryGB": {
            "default": min(8, ram[-1]),
            "defaultRequest": min(4, ram[-1]),
            "defaultLimit": capacity.default_limit("ram"),
            "options": ram,
        },
        "gpus": {"options": []},
        "maxInteractiveSessions": MAX_INTERACTIVE_SESSIONS,
    }


def images_document(kind: str | None) -> list[dict]:
    if kind is not None and kind.lower() not in SESSION_TYPES:
        raise BadRequest(f"unknown type: {kind}")
    return [
        {**image, "digest": "sha256:" + hashlib.sha256(image["id"].encode()).hexdigest()}
        for image in IMAGES
        if kind is None or kind.lower() in image["types"]
    ]


def repository_document() -> list[str]:
    return list(DEFAULT_REGISTRIES)


def _first(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def _option(params, key: str, options: list[int], *, integer: bool = False) -> float | None:
    raw = _first(params, key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise BadRequest(f"Invalid value for '{key}': {raw}") from None
    if value != value or int(value) not in options:
        raise BadRequest(f"Invalid value for '{key}': {raw}")
    return value


def validate_create(params: dict[str, list[str]], capacity: Capacity) -> LaunchRequest:
    """Check a create request the way Skaha's PostAction does; raise BadRequest with its text."""
    image = _first(params, "image")
    if not image:
        raise BadRequest("Missing parameter 'image'")
    name = _first(params, "name")
    if not name:
        raise BadRequest("Missing parameter 'name'")
    if not NAME_PATTERN.fullmatch(name):
        raise BadRequest("name can only contain alpha-numeric chars and '-'")
    kind = (_first(params, "type") or "headless").lower()
    if kind not in SESSION_TYPES:
        raise BadRequest(f"Invalid session type: {_first(params, 'type')}")
    if kind == "desktop-app":
        raise BadRequest("desktop-app sessions are not offered by the local server")
    if not from_registry(image):
        raise BadRequest(f"session image '{image}' must come from one of [{', '.join(DEFAULT_REGISTRIES)}]")
    cores = _option(params, "cores", capacity.core_options)
    ram = _option(params, "ram", capacity.ram_options)
    gpus = _option(params, "gpus", [], integer=True) if _first(params, "gpus") not in (None, "", "0") else None
    cmd, args = _first(params, "cmd"), split_args(_first(params, "args") or "")
    if not cmd and kind == "headless":
        raise BadRequest(
            "Missing parameter 'cmd': the local server runs commands, not containers, so a headless session must name its command"
        )
    if not cmd:
        cmd, args = sys.executable, list(IDLE_ARGS)
    env = [pair for pair in map(split_env, params.get("env", [])) if pair is not None]
    return LaunchRequest(
        name=stored_name(name),
        image=image,
        type=kind,
        cmd=cmd,
        args=args,
        env=env,
        cores=cores,
        ram=ram,
        gpus=None if gpus is None else int(gpus),
    )
