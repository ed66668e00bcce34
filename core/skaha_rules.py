"""Skaha's rules, written once: what the client checks before sending, the local server enforces, and the planner obeys.

Each rule states how Skaha v1 behaves (reference/skaha-api.md; ``sp:`` names files of
opencadc/science-platform). The client refuses what Skaha would refuse or silently mangle, the local
server answers as Skaha answers, and a run plan is made only of requests Skaha will take as sent, all
from the definitions here, so the three cannot drift apart.
"""

from __future__ import annotations

import re

# --- session statuses (§3.3: computed from the Kubernetes Job status, sp:SessionBuilder.java) ------------------

PENDING = "Pending"
RUNNING = "Running"
COMPLETED = "Completed"
FAILED = "Failed"
TERMINATING = "Terminating"
STATUSES = (PENDING, RUNNING, COMPLETED, FAILED, TERMINATING)
ACTIVE_STATUSES = (PENDING, RUNNING, TERMINATING)
"""A session in one of these still holds (or waits for) its resources."""
TERMINAL_STATUSES = (COMPLETED, FAILED)
"""A headless session ends in one of these; Skaha lists it for ``FINISHED_LISTED_S`` more, then forgets it."""
LEGACY_STATUSES = {"Succeeded": COMPLETED, "Error": FAILED}
"""Pod-phase names servers before September 2025 sent (canfar still accepts them)."""

# --- session names and ids (§3.5, sp:PostAction) ---------------------------------------------------------------

NAME_PATTERN = re.compile(r"[A-Za-z0-9-]+")
"""Names Skaha accepts (fullmatch); others get 400 "name can only contain alpha-numeric chars and '-'"."""
NAME_PREFIX_PATTERN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
"""A prefix the planner extends into session names: of the name alphabet, lowercase as Skaha stores it,
starting and ending with a letter or digit as a Kubernetes label must."""
MAX_NAME = 63
"""Skaha stores the name as a Kubernetes label: lowercased and cut to 63 characters."""
SESSION_ID_PATTERN = NAME_PATTERN
"""Session ids come from the same alphabet (8 lowercase letters and digits); nothing else names a session."""


def stored_name(name: str) -> str:
    """The name as Skaha lists it after a create: lowercased, at most ``MAX_NAME`` characters."""
    return name.lower()[:MAX_NAME]


# --- images (§3.5: the image must start with a configured registry host, skaha.harborhosts) ---------------------

DEFAULT_REGISTRIES = ("images.canfar.net",)
"""Skaha's default ``harborhosts``; ``GET /repository`` says which hosts a server trusts."""


def from_registry(image: str, registries: tuple[str, ...] | list[str] = DEFAULT_REGISTRIES) -> bool:
    """Whether ``image`` is ``HOST/...`` for one of ``registries``.

    Skaha tests only that the image starts with the host; requiring the '/' as well refuses
    ``images.canfar.net.evil/x`` here, so whatever passes this check also passes Skaha's.
    """
    image = image.strip()
    return any(image.startswith(host.rstrip("/") + "/") for host in registries)


# --- session types and resources (§3.5, sp:helm/skaha-config/k8s-resources.json) --------------------------------

SESSION_TYPES = ("notebook", "desktop", "carta", "headless", "firefly", "contributed", "desktop-app")
"""Skaha's ``type`` values (case-insensitive; default headless); others get 400 "Invalid session type"."""
CHART_RAM_GIB = (1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 26, 28, 30, 32, 36, 40, 44, 48, 56, 64, 80, 92, 112, 128, 140, 170, 192)
"""``memoryGB.options`` of the shipped chart (GiB, despite the name)."""
CHART_DEFAULT_LIMIT = {"cores": 8, "ram": 32}
"""``defaultLimit`` of the shipped chart: what a flexible session may grow to (cores, GiB)."""
FLEX_REQUEST = {"cores": 1.0, "ram": 4.0}
"""What an omitted ``cores`` or ``ram`` requests for a headless session (cores, GiB)."""
HEADLESS_DEADLINE_S = 14 * 24 * 3600.0
"""``activeDeadlineSeconds`` of a headless Job: after 14 days running it is ended as Failed."""
FINISHED_LISTED_S = 3600.0
"""``ttlSecondsAfterFinished``: a finished headless session stays listed (with its log) about an hour."""

# --- GB and GiB (§3.3, §3.5) --------------------------------------------------------------------------------------
# What a client sends (``ram``) and what /context offers (``memoryGB``) are GiB: Skaha appends "Gi".
# What a session reports (``requestedRAM``, ``ramInUse``) is decimal GB: 8 GiB is listed as "8.59".

GIB = 2**30


def gib_to_gb(gib: float) -> float:
    """Decimal GB of ``gib`` GiB: how Skaha reports a ``ram`` request (8 → 8.59)."""
    return gib * GIB / 1e9


def bytes_to_gib(n_bytes: float) -> float:
    """GiB in ``n_bytes``: the unit of a ``ram`` request."""
    return n_bytes / GIB


# --- create parameters (§3.5) -------------------------------------------------------------------------------------

CREATE_ID_ENV = "SRCNET_CREATE_ID"
"""Env variable every create of this client carries, the same for all attempts of one create. Skaha
ignores it; serve-local answers a repeated create id with the first session it made."""
REPLICA_ENV = ("REPLICA_ID", "REPLICA_COUNT")
"""Replicas exist only in the client (canfar's convention): N creates named NAME-1..NAME-N with these set."""
SAFE_ARG = re.compile(r"[A-Za-z0-9._+,:@/-]+")
"""Paths a run puts into ``args`` keep to this alphabet: Skaha splits at spaces and cannot quote,
Kubernetes expands ``$(NAME)``, and nothing here means anything to a shell."""
SAFE_CHARACTERS = "letters, digits and . _ + , : @ / -"
_WHITESPACE = re.compile(r"\s")


def split_args(text: str) -> list[str]:
    """``args`` as Skaha splits them: at every single space, no quoting (Java's ``split(" ")``)."""
    return _java_split(text, " ")


def split_env(entry: str) -> tuple[str, str] | None:
    """One ``env`` entry as Skaha reads it: ``KEY=VALUE`` split at '='; None (silently dropped) unless two parts."""
    parts = _java_split(entry, "=")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _java_split(text: str, sep: str) -> list[str]:
    """``String.split`` as Java does it: trailing empty strings are dropped."""
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def is_one_word(text: str) -> bool:
    """Whether ``text`` reaches the session as one ``cmd`` or ``args`` item."""
    return bool(text) and not _WHITESPACE.search(text)


def arg_problem(arg: str) -> str | None:
    """Why Skaha would not pass ``arg`` on as one argument; None when it would."""
    if arg == "":
        return "empty arguments are lost (Skaha splits args on spaces)"
    if not is_one_word(arg):
        return f"{arg!r} contains whitespace, which Skaha would split into several arguments"
    return None


ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""Env variable names a session's program can read (POSIX names; Kubernetes takes more, shells do not)."""


def env_problem(key: str, value: str) -> str | None:
    """Why Skaha would drop or garble the env entry ``key=value``; None when it arrives as sent."""
    if not is_one_word(key) or "=" in key:
        return f"env: {key!r} is not a valid variable name"
    if "=" in value:
        return f"env {key}: values containing '=' are dropped by Skaha"
    if value == "":
        return f"env {key}: empty values are dropped by Skaha"
    return None
