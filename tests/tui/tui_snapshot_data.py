"""Pinned data for the snapshot tests: core's own parsing over fixed Skaha payloads, a fixed clock.

The snapshot app is the real app; only the place it gets sessions from is a small in-process
source whose answers are Skaha JSON/text parsed by core (:func:`srcnet_tui.core.models.parse_sessions`), so
ids, times and numbers never change between runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from srcnet_tui.core.credentials import CredentialStatus
from srcnet_tui.core.models import parse_sessions
from srcnet_tui.core.settings import Settings
from srcnet_tui.tui.app import SrcnetApp

NOW = datetime(2026, 11, 21, 6, 0, 0, tzinfo=UTC)
IMAGE = "images.canfar.net/srcnet/sofia-task:2.5.0"
STATUSES = ["Running", "Running", "Completed", "Pending", "Failed", "Running", "Completed", "Running"]


def session_json(i: int, status: str) -> dict:
    started = status != "Pending"
    entry = {
        "id": f"s{i:03d}pin{i % 10}x"[:8], "userid": "alice", "image": IMAGE, "type": "headless", "status": status,
        "name": f"sofia-20261121-{i}", "requestedRAM": "8.59", "requestedCPUCores": "2", "isFixedResources": True,
    }  # fmt: skip
    if started:
        entry["startTime"] = f"2026-11-21T05:{10 + i * 4:02d}:00Z"
    if status == "Running":
        entry.update(cpuCoresInUse=f"{0.5 + i * 0.2:.3f}", ramInUse=f"{1.2 + i * 0.3:.2f}")
    return entry


SESSIONS_JSON = [session_json(i, status) for i, status in enumerate(STATUSES, start=1)]
LOG_TEXT = "".join(
    f"SoFiA 2.6.0: region {i % 4}: {i * 37 % 1000} candidate voxels\n"
    if i % 10
    else f"\x1b[1;33mWARNING\x1b[0m region {i % 4}: noise\n"
    for i in range(60)
)
"""60 lines, every tenth a coloured warning (the Logs pane draws the colours)."""
EVENTS_TEXT = (
    "TYPE     REASON     MESSAGE                                  FIRST-TIME             LAST-TIME\n"
    "Normal   Scheduled  Successfully assigned to localhost       2026-11-21T05:14:00Z   2026-11-21T05:14:00Z\n"
    "Normal   Started    Started container main                   2026-11-21T05:14:01Z   2026-11-21T05:14:01Z\n"
)


class PinnedClient:
    """Answers like a Skaha client, always with the same payloads."""

    async def list_sessions(self, type=None, status=None):
        return parse_sessions(SESSIONS_JSON)

    async def logs(self, session_id: str) -> str:
        return LOG_TEXT

    async def events(self, session_id: str) -> str:
        return EVENTS_TEXT

    async def context(self) -> dict:
        return {"cores": {"default": 1, "options": [1, 2, 4, 8, 16]}, "memoryGB": {"default": 4, "options": [1, 2, 4, 8, 16, 32]}}

    async def stats(self) -> dict:
        return {
            "cores": {"requestedCPUCores": 14, "cpuCoresAvailable": 16},
            "ram": {"requestedRAM": "40G", "ramAvailable": "64G"},
        }

    async def registries(self) -> tuple[str, ...]:
        return ("images.canfar.net",)

    async def aclose(self) -> None:
        pass


class PinnedPlatform:
    def __init__(self) -> None:
        self._client = PinnedClient()

    async def client(self) -> PinnedClient:
        return self._client

    async def credential(self) -> CredentialStatus:
        return CredentialStatus("local")

    async def reconnect(self) -> None:
        pass

    async def diagnose(self) -> str | None:
        return None

    async def recover(self) -> str | None:
        return None

    async def aclose(self) -> None:
        pass


def pinned_app(state_dir: Path, **options) -> SrcnetApp:
    settings = Settings("local", None, None, None, state_dir, "test")
    options.setdefault("poll_interval", 60.0)
    options.setdefault("keymap", {})
    return SrcnetApp(settings, platform=PinnedPlatform(), clock=lambda: NOW, **options)
