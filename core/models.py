"""One typed view of a Skaha session, whatever vintage of server produced the JSON.

Skaha has changed its session format several times (reference/skaha-api.md §3.3, §6): resource
strings have been ``"8.59"``, ``"8G"``, ``"4Gi"``, ``"101Mi"``, ``"561m"`` and ``"<none>"``; fields are
omitted when null; statuses were renamed (``Succeeded``/``Error``); ``coresInUse`` became
``cpuCoresInUse``. Everything above this module sees one :class:`Session` with numbers in fixed
units (cores, decimal GB) and current status names, and never a ``KeyError``.

RAM is requested in GiB (``ram=2``) but reported in decimal GB (``"2.15"``): people see it in
GiB, the unit they wrote, through :attr:`Session.requested_ram_gib` and :func:`format_gib`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from srcnet_tui.core.skaha_rules import ACTIVE_STATUSES, GIB, LEGACY_STATUSES, PENDING, STATUSES, TERMINAL_STATUSES

_STATUS_BY_LOWER = {status.lower(): status for status in STATUSES} | {
    legacy.lower(): current for legacy, current in LEGACY_STATUSES.items()
}

# Field order of Skaha's Session.java, which --json output follows.
SKAHA_FIELD_ORDER = (
    "id",
    "userid",
    "runAsUID",
    "runAsGID",
    "supplementalGroups",
    "appid",
    "image",
    "type",
    "status",
    "name",
    "startTime",
    "expiryTime",
    "connectURL",
    "requestedRAM",
    "requestedCPUCores",
    "requestedGPUCores",
    "ramInUse",
    "cpuCoresInUse",
    "gpuRAMInUse",
    "gpuUtilization",
    "isFixedResources",
)
_MISSING = {"", "<none>", "none", "null", "not-applicable", "n/a"}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
# Kubernetes quantity suffixes: cores (millicores, nanocores) and memory in decimal GB. A bare number
# in a RAM field is already decimal GB (the current server's format).
_CORE_UNITS = {"": 1.0, "m": 1e-3, "n": 1e-9}
_GB_UNITS = {
    "": 1.0,
    "k": 1e-6,
    "K": 1e-6,
    "M": 1e-3,
    "G": 1.0,
    "T": 1e3,
    "P": 1e6,
    "Ki": GIB / 2**20 / 1e9,
    "Mi": GIB / 2**10 / 1e9,
    "Gi": GIB / 1e9,
    "Ti": GIB * 2**10 / 1e9,
    "Pi": GIB * 2**20 / 1e9,
}


def _quantity(value) -> tuple[float, str] | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value), ""
    text = str(value).strip()
    if text.lower() in _MISSING:
        return None
    match = _QUANTITY.match(text)
    return (float(match.group(1)), match.group(2)) if match else None


def _scaled(value, units: dict[str, float]) -> float | None:
    parsed = _quantity(value)
    if parsed is None:
        return None
    number, unit = parsed
    scale = units.get(unit) or units.get(unit.removesuffix("B"))
    return number * scale if scale else None


def parse_cores(value) -> float | None:
    """Cores from ``"2"``, ``"0.500"``, ``"0.004"``, ``"561m"`` (millicores) or ``"<none>"``."""
    return _scaled(value, _CORE_UNITS)


def parse_gb(value) -> float | None:
    """Decimal GB from ``"8.59"`` (already GB), ``"8G"``, ``"4Gi"``, ``"101Mi"`` or ``"<none>"``."""
    return _scaled(value, _GB_UNITS)


def gb_to_gib(gb: float | None) -> float | None:
    """GiB in ``gb`` decimal GB: Skaha's ``"8.59"`` is the 8 GiB that was requested."""
    return None if gb is None else gb * 1e9 / GIB


def format_gib(gib: float | None) -> str:
    """RAM as people wrote it: ``2`` for the 2 GiB Skaha lists as ``"2.15"``, ``0.11`` for 117 MiB, ``-`` if unknown."""
    if gib is None:
        return "-"
    return f"{gib:.2f}".rstrip("0").rstrip(".")


def parse_int(value) -> int | None:
    parsed = _quantity(value)
    if parsed is None or parsed[1]:
        return None
    return int(parsed[0])


def parse_time(value) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime; None when absent or unreadable."""
    if not value or str(value).strip().lower() in _MISSING:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def normalise_status(value) -> str:
    """Current status names; legacy ``Succeeded``/``Error`` mapped; unknown text kept as sent."""
    text = str(value or "").strip()
    if not text:
        return PENDING
    return _STATUS_BY_LOWER.get(text.lower(), text)


def _bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _text(value) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Session:
    """A Skaha session; numbers are cores and decimal GB, times are aware UTC datetimes."""

    id: str
    name: str = ""
    status: str = PENDING
    type: str = ""
    image: str = ""
    userid: str = ""
    start_time: datetime | None = None
    expiry_time: datetime | None = None
    requested_cores: float | None = None
    requested_ram_gb: float | None = None
    requested_gpus: int | None = None
    cores_in_use: float | None = None
    ram_in_use_gb: float | None = None
    is_fixed: bool | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict) -> Session:
        """Parse one session object as any Skaha version sent it; unknown fields stay in ``raw``."""
        data = data if isinstance(data, dict) else {}
        cores_in_use = data.get("cpuCoresInUse")
        if parse_cores(cores_in_use) is None:
            cores_in_use = data.get("coresInUse")
        return cls(
            id=_text(data.get("id")),
            name=_text(data.get("name")),
            status=normalise_status(data.get("status")),
            type=_text(data.get("type")),
            image=_text(data.get("image")),
            userid=_text(data.get("userid")),
            start_time=parse_time(data.get("startTime")),
            expiry_time=parse_time(data.get("expiryTime")),
            requested_cores=parse_cores(data.get("requestedCPUCores")),
            requested_ram_gb=parse_gb(data.get("requestedRAM")),
            requested_gpus=parse_int(data.get("requestedGPUCores")),
            cores_in_use=parse_cores(cores_in_use),
            ram_in_use_gb=parse_gb(data.get("ramInUse")),
            is_fixed=_bool(data.get("isFixedResources")),
            raw=dict(data),
        )

    @property
    def requested_ram_gib(self) -> float | None:
        """The RAM request in GiB, the unit ``ram`` is given in."""
        return gb_to_gib(self.requested_ram_gb)

    @property
    def ram_in_use_gib(self) -> float | None:
        return gb_to_gib(self.ram_in_use_gb)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def to_json(self) -> dict:
        """Skaha's field names with parsed values (numbers, current statuses); other raw fields kept."""
        parsed = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "type": self.type,
            "image": self.image,
            "userid": self.userid,
            "startTime": format_time(self.start_time),
            "expiryTime": format_time(self.expiry_time),
            "requestedCPUCores": self.requested_cores,
            "requestedRAM": self.requested_ram_gb,
            "requestedGPUCores": self.requested_gpus,
            "cpuCoresInUse": self.cores_in_use,
            "ramInUse": self.ram_in_use_gb,
            "isFixedResources": self.is_fixed,
            "requestedRAMGiB": _rounded(self.requested_ram_gib),
            "ramInUseGiB": _rounded(self.ram_in_use_gib),
        }
        merged = {**{k: v for k, v in self.raw.items() if k != "coresInUse"}, **parsed}
        ordered = {k: merged.pop(k) for k in SKAHA_FIELD_ORDER if k in merged}
        return {**ordered, **merged}


def _rounded(gib: float | None) -> float | None:
    """GiB to the precision Skaha's two-decimal GB carries, so 8.59 GB is 8.0 GiB, not 8.0001."""
    return None if gib is None else round(gib, 2)


def parse_sessions(data) -> list[Session]:
    """A session list as sent by ``GET /session``; non-object entries are skipped."""
    if not isinstance(data, list):
        return []
    return [Session.from_json(item) for item in data if isinstance(item, dict)]


EVENT_FIELDS = ("type", "reason", "message", "first_time", "last_time")
_HEADER_START = re.compile(r"^\s*TYPE\s{2,}REASON\s{2,}", re.IGNORECASE)


def _header_offsets(header: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", header)]


def _row_by_offsets(row: str, offsets: list[int]) -> list[str] | None:
    """Slice at the header's columns when every column boundary falls on a space in this row."""
    if len(offsets) != len(EVENT_FIELDS):
        return None
    for start in offsets[1:]:
        if start > len(row) or row[start - 1] != " " or row[start] == " ":
            return None
    cells = [row[a:b].strip() for a, b in itertools.pairwise([*offsets, len(row)])]
    single_token = (cells[0], cells[1], cells[3], cells[4])
    return cells if all(c and not re.search(r"\s", c) for c in single_token) else None


def _row_by_tokens(row: str) -> list[str] | None:
    """TYPE, REASON and the two times are single tokens; the message is whatever lies between."""
    tokens = list(re.finditer(r"\S+", row))
    if len(tokens) < 4:
        return None
    message = row[tokens[1].end() : tokens[-2].start()].strip()
    return [tokens[0].group(), tokens[1].group(), message, tokens[-2].group(), tokens[-1].group()]


def parse_events(text: str) -> list[dict]:
    """Rows of Skaha's padded events table as dicts keyed by :data:`EVENT_FIELDS`.

    ``<none>`` (no events) gives ``[]``. Messages keep their inner runs of spaces: rows are cut at
    the header's column offsets when they line up, otherwise around the single-token columns.
    """
    lines = [line.rstrip() for line in (text or "").splitlines()]
    header_at = next((i for i, line in enumerate(lines) if _HEADER_START.match(line)), None)
    if header_at is None:
        return []
    offsets = _header_offsets(lines[header_at])
    events = []
    for row in lines[header_at + 1 :]:
        if not row.strip() or row.strip().lower() == "<none>":
            continue
        cells = _row_by_offsets(row, offsets) or _row_by_tokens(row)
        if cells:
            events.append(dict(zip(EVENT_FIELDS, cells)))
    return events
