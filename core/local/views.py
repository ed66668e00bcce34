"""Session records rendered the way Skaha renders them: Session JSON, the events table, platform stats.

Formats follow reference/skaha-api.md §3.3, §3.8 and §3.9 (current server): decimal-GB strings with two
decimals, cores as ``"2"`` or ``"0.500"``, ISO-8601 UTC times, null fields left out.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import time

from srcnet_tui.core.local.context import Capacity
from srcnet_tui.core.skaha_rules import GIB, gib_to_gb

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
EVENT_COLUMNS = ("TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME")


def iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime(TIME_FORMAT, time.gmtime(ts))


def local_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or str(os.getuid())


def decimal_gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f}"


def cores_text(cores: float) -> str:
    return str(int(cores)) if float(cores).is_integer() else f"{cores:.3f}"


@functools.lru_cache(maxsize=1)
def _posix_identity() -> tuple[str, str, list[int]]:
    return str(os.getuid()), str(os.getgid()), sorted(set(os.getgroups()) - {os.getgid()})


def session_json(record: dict, usage: tuple[float, int] | None, user: str) -> dict:
    """One Session object, fields in Session.java order, nulls omitted."""
    fixed_ram = record.get("ram")
    uid, gid, groups = _posix_identity()
    fields = {
        "id": record["id"],
        "userid": user,
        "runAsUID": uid,
        "runAsGID": gid,
        "supplementalGroups": list(groups),
        "image": record["image"],
        "type": record["type"],
        "status": record["state"],
        "name": record["name"],
        "startTime": iso(record.get("started")),
        "expiryTime": iso(record.get("expiry")) if record.get("started") else None,
        "connectURL": "",
        "requestedRAM": decimal_gb(fixed_ram * GIB) if fixed_ram is not None else None,
        "requestedCPUCores": cores_text(record["cores"]) if record.get("cores") is not None else None,
        "requestedGPUCores": str(record.get("gpus") or 0),
        "ramInUse": decimal_gb(usage[1]) if usage else None,
        "cpuCoresInUse": f"{usage[0]:.3f}" if usage else None,
        "isFixedResources": fixed_ram is not None,
    }
    return {key: value for key, value in fields.items() if value is not None}


class ListingCache:
    """Pretty JSON of each listed session, rendered again only when its record or usage changed.

    A listing of 1,000 mostly unchanged sessions is then a join of cached fragments, byte for byte
    what ``json.dumps(list, indent=2)`` would produce.
    """

    def __init__(self):
        self._entries: dict[str, tuple[tuple, str]] = {}

    def _fragment(self, record: dict, usage, user: str) -> str:
        key = (record.get("version"), usage)
        hit = self._entries.get(record["id"])
        if hit is not None and hit[0] == key:
            return hit[1]
        text = "  " + json.dumps(session_json(record, usage, user), indent=2).replace("\n", "\n  ")
        self._entries[record["id"]] = (key, text)
        return text

    def render(self, rows: list[tuple[dict, tuple[float, int] | None]], user: str, *, complete: bool) -> str:
        """The JSON array of ``rows``; ``complete`` when rows are every session (stale entries are dropped)."""
        fragments = [self._fragment(record, usage, user) for record, usage in rows]
        if complete and len(self._entries) > len(rows):
            listed = {record["id"] for record, _ in rows}
            self._entries = {k: v for k, v in self._entries.items() if k in listed}
        return "[\n" + ",\n".join(fragments) + "\n]\n" if fragments else "[]\n"


def public_session_json(record: dict, user: str) -> dict:
    """``view=all``: every user's sessions with reduced fields."""
    fields = {"userid": user, "type": record["type"], "status": record["state"], "startTime": iso(record.get("started"))}
    return {key: value for key, value in fields.items() if value is not None}


def new_event(kind: str, reason: str, message: str, when: float | None = None) -> list:
    """An event row; runs of whitespace in the message become one space (clients split columns on 2+)."""
    when = time.time() if when is None else when
    return [kind, reason, " ".join(message.split()), when, when]


def events_table(events: list[list]) -> str:
    """kubectl custom-columns output: a header row and space-padded columns, ``<none>`` when empty."""
    if not events:
        return "<none>\n"
    rows = [EVENT_COLUMNS, *((k, r, m, iso(first) or "", iso(last) or "") for k, r, m, first, last in events)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(EVENT_COLUMNS) - 1)]
    lines = ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "   " + row[-1] for row in rows]
    return "\n".join(lines) + "\n"


def _gb_text(gb: float) -> str:
    return f"{round(gb, 1):g}G"


def stats_json(capacity: Capacity, requested_cores: float, requested_ram_gib: float) -> dict:
    """``view=stats``: allocation against this machine's capacity, and the per-session ceiling."""
    max_cores = float(capacity.cores)
    max_ram = f"{capacity.ram_options[-1]}Gi"
    return {
        "cores": {
            "requestedCPUCores": round(float(requested_cores), 3),
            "cpuCoresAvailable": max_cores,
            "maxCPUCores": {"cpuCores": max_cores, "withRam": max_ram},
        },
        "ram": {
            "requestedRAM": _gb_text(gib_to_gb(requested_ram_gib)),
            "ramAvailable": _gb_text(gib_to_gb(capacity.ram_gb)),
            "maxRAM": {"ram": max_ram, "withCPUCores": max_cores},
        },
    }
