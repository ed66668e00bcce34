"""Why a session is Pending: the client's estimate from /context, view=stats, events and the user's own sessions."""

from datetime import UTC, datetime

from srcnet_tui.core.models import Session
from srcnet_tui.core.pending import Platform, pending_reason

CONTEXT = {"cores": {"options": [1, 2, 4, 8]}, "memoryGB": {"options": [1, 2, 4, 8, 16, 32]}, "gpus": {"options": [1, 2]}}
STATS = {
    "cores": {"requestedCPUCores": 14.0, "cpuCoresAvailable": 16.0},
    "ram": {"requestedRAM": "20G", "ramAvailable": "64G"},
}


def pending(cores=8, ram_gb=8.59, **fields) -> Session:
    return Session(id="abc12345", name="job", status="Pending", requested_cores=cores, requested_ram_gb=ram_gb, **fields)


def test_waiting_for_cores_says_how_many_are_free():
    reason = pending_reason(pending(), Platform(CONTEXT, STATS))
    assert reason == "queued: needs 8 cores, 2 of 16 free (client's estimate)"


def test_more_than_the_site_offers_is_said_before_the_queue():
    assert (
        pending_reason(pending(cores=16), Platform(CONTEXT, STATS)) == "exceeds this site's maximum (8 cores) (client's estimate)"
    )
    big_ram = pending(cores=1, ram_gb=64 * 2**30 / 1e9)
    assert pending_reason(big_ram, Platform(CONTEXT, STATS)).startswith("exceeds this site's maximum (32 GiB RAM)")


def test_waiting_for_ram_when_cores_are_free():
    stats = {"cores": {"requestedCPUCores": 0, "cpuCoresAvailable": 16}, "ram": {"requestedRAM": "60G", "ramAvailable": "64G"}}
    assert pending_reason(pending(cores=2, ram_gb=8), Platform(CONTEXT, stats)).startswith("queued: needs 8 GB RAM, 4 of 64 free")


def test_a_preemption_event_names_its_time():
    events = [
        {"type": "Normal", "reason": "Started", "message": "", "first_time": "2026-07-01T13:00:00Z", "last_time": "x"},
        {"type": "Normal", "reason": "Preempted", "message": "Preempted to accommodate a workload", "first_time": "-",
         "last_time": "2026-07-01T14:02:09Z"},
    ]  # fmt: skip
    reason = pending_reason(pending(), Platform(CONTEXT, STATS), events=events)
    assert reason == "preempted at 14:02 UTC, queued again (client's estimate)"
    seen = pending_reason(pending(), Platform(), seen_running_at=datetime(2026, 7, 1, 9, 30, tzinfo=UTC))
    assert seen.startswith("was Running at 09:30 UTC: preempted, queued again")


def test_without_stats_the_reason_says_the_load_is_unknown_and_uses_own_sessions():
    running = Session(id="r1", status="Running", requested_cores=6)
    reason = pending_reason(pending(cores=4), Platform(CONTEXT, None), [running])
    assert reason == (
        "queued: needs 4 cores; site load unknown (view=stats unavailable); your running sessions hold 6 cores (client's estimate)"
    )


def test_room_free_but_still_queued_counts_the_users_other_pending_sessions():
    idle = {"cores": {"requestedCPUCores": 0, "cpuCoresAvailable": 16}, "ram": {"requestedRAM": "0G", "ramAvailable": "64G"}}
    other = Session(id="p2", status="Pending", requested_cores=1)
    assert "1 other Pending session(s) of yours" in pending_reason(pending(cores=1, ram_gb=1), Platform(CONTEXT, idle), [other])


def test_sessions_that_are_not_pending_have_no_reason():
    assert pending_reason(Session(id="x", status="Running"), Platform(CONTEXT, STATS)) is None
