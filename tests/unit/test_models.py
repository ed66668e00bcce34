"""Sessions in every format Skaha has emitted parse into one model; the events table parses robustly."""

from datetime import UTC, datetime

import pytest

from srcnet_tui.core.models import Session, format_gib, parse_cores, parse_events, parse_gb, parse_sessions
from srcnet_tui.core.skaha_rules import COMPLETED, FAILED, PENDING, RUNNING

CURRENT = {  # reference/skaha-api.md §6.6
    "id": "q3k9x0ab",
    "userid": "alice",
    "runAsUID": "20001",
    "runAsGID": "20001",
    "supplementalGroups": [30001],
    "image": "images.canfar.net/skaha/terminal:1.1.2",
    "type": "headless",
    "status": "Running",
    "name": "sweep-3",
    "startTime": "2026-07-01T12:00:05Z",
    "expiryTime": "2026-07-15T12:00:05Z",
    "connectURL": "",
    "requestedRAM": "4.29",
    "requestedCPUCores": "1",
    "requestedGPUCores": "0",
    "ramInUse": "0.12",
    "cpuCoresInUse": "0.004",
    "isFixedResources": True,
}
LEGACY_2022 = {  # §6.3
    "id": "mrjdtbn9",
    "userid": "shinybrar",
    "image": "images.canfar.net/chimefrb/testing:keep",
    "type": "headless",
    "status": "Succeeded",
    "name": "test",
    "startTime": "2022-12-15T18:59:12Z",
    "connectURL": "not-applicable",
    "requestedRAM": "8G",
    "requestedCPUCores": "2",
    "requestedGPUCores": "<none>",
    "coresInUse": "<none>",
    "ramInUse": "<none>",
}
DESKTOP_2022 = {  # §6.2
    "id": "a8jw6e1u",
    "userid": "alinga",
    "image": "images-rc.canfar.net/skaha/desktop:1.0.3",
    "type": "desktop",
    "status": "Running",
    "name": "alinga-skaha-desktop",
    "startTime": "2022-10-27T16:47:06Z",
    "requestedRAM": "4Gi",
    "requestedCPUCores": "2",
    "requestedGPUCores": "<none>",
    "coresInUse": "561m",
    "ramInUse": "101Mi",
}


def test_current_format():
    s = Session.from_json(CURRENT)
    assert (s.id, s.name, s.status, s.type, s.userid) == ("q3k9x0ab", "sweep-3", RUNNING, "headless", "alice")
    assert s.start_time == datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC)
    assert s.expiry_time.day == 15
    assert (s.requested_cores, s.requested_ram_gb, s.requested_gpus) == (1.0, 4.29, 0)
    assert (s.cores_in_use, s.ram_in_use_gb, s.is_fixed) == (0.004, 0.12, True)
    assert not s.is_terminal


def test_legacy_format_and_status_names():
    s = Session.from_json(LEGACY_2022)
    assert s.status == COMPLETED and s.is_terminal
    assert s.requested_ram_gb == 8.0 and s.requested_cores == 2.0
    assert s.requested_gpus is None and s.cores_in_use is None and s.ram_in_use_gb is None
    assert Session.from_json({"id": "x", "status": "Error"}).status == FAILED


def test_kubernetes_quantities_from_old_servers():
    s = Session.from_json(DESKTOP_2022)
    assert s.cores_in_use == pytest.approx(0.561)
    assert s.ram_in_use_gb == pytest.approx(101 * 2**20 / 1e9)
    assert s.requested_ram_gb == pytest.approx(4 * 2**30 / 1e9)


@pytest.mark.parametrize(
    "text, cores",
    [
        ("2", 2.0),
        ("0.500", 0.5),
        ("561m", 0.561),
        ("0.004", 0.004),
        ("<none>", None),
        ("", None),
        (None, None),
        ("lots", None),
        (3, 3.0),
    ],
)
def test_parse_cores(text, cores):
    assert parse_cores(text) == (pytest.approx(cores) if cores else cores)


@pytest.mark.parametrize(
    "text, gb",
    [("8.59", 8.59), ("8G", 8.0), ("16G", 16.0), ("4Gi", 4.294967296), ("101Mi", 0.105906176), ("<none>", None), ("x", None)],
)
def test_parse_gb(text, gb):
    assert parse_gb(text) == (pytest.approx(gb) if gb else gb)


@pytest.mark.parametrize(
    "requested, shown",
    [("2.15", "2"), ("8.59", "8"), ("206.16", "192"), ("4Gi", "4"), ("8G", "7.45"), ("<none>", "-")],
)
def test_ram_is_shown_in_the_gib_the_user_asked_for(requested, shown):
    """`ram = 2` is listed by Skaha as "2.15" (decimal GB): people see the 2 they wrote."""
    session = Session.from_json({"id": "a", "requestedRAM": requested, "ramInUse": "0.12"})

    assert format_gib(session.requested_ram_gib) == shown
    assert format_gib(session.ram_in_use_gib) == "0.11"


def test_json_keeps_skahas_decimal_gb_and_adds_the_gib():
    out = Session.from_json({"id": "a", "requestedRAM": "2.15", "ramInUse": "0.12"}).to_json()

    assert (out["requestedRAM"], out["ramInUse"]) == (2.15, 0.12)
    assert (out["requestedRAMGiB"], out["ramInUseGiB"]) == (2.0, 0.11)
    assert Session.from_json({"id": "b"}).to_json()["requestedRAMGiB"] is None


def test_missing_keys_and_garbage_never_raise():
    s = Session.from_json({"id": "abc"})
    assert (s.name, s.status, s.start_time, s.requested_cores, s.is_fixed) == ("", PENDING, None, None, None)
    assert Session.from_json({"id": "abc", "startTime": "soon", "isFixedResources": "maybe"}).start_time is None
    assert [x.id for x in parse_sessions([CURRENT, "junk", None, {"id": "b"}])] == ["q3k9x0ab", "b"]
    assert parse_sessions({"not": "a list"}) == []


def test_to_json_uses_skaha_field_names_with_parsed_values():
    out = Session.from_json(DESKTOP_2022).to_json()
    for key in (
        "id",
        "name",
        "status",
        "type",
        "image",
        "startTime",
        "requestedCPUCores",
        "requestedRAM",
        "cpuCoresInUse",
        "ramInUse",
    ):
        assert key in out
    assert "coresInUse" not in out
    assert out["cpuCoresInUse"] == pytest.approx(0.561)
    assert out["startTime"] == "2022-10-27T16:47:06Z"
    assert Session.from_json(LEGACY_2022).to_json()["status"] == COMPLETED
    assert Session.from_json(CURRENT).to_json()["supplementalGroups"] == [30001]


def test_events_aligned_table_keeps_spaces_inside_messages():
    header = "TYPE     REASON      MESSAGE                                     FIRST-TIME             LAST-TIME"
    rows = [
        "Normal   Scheduled   Successfully assigned pod to node12            2026-07-01T12:00:01Z   2026-07-01T12:00:01Z",
        "Warning  Failed      Error:  image  pull   back-off                 2026-07-01T12:00:02Z   2026-07-01T12:00:09Z",
    ]
    events = parse_events("\n".join([header, *rows]) + "\n")
    assert [e["reason"] for e in events] == ["Scheduled", "Failed"]
    assert events[1]["message"] == "Error:  image  pull   back-off"
    assert events[1]["last_time"] == "2026-07-01T12:00:09Z"


def test_events_rows_longer_than_the_header_columns():
    text = (  # reference/skaha-api.md §6.10: the message overflows its column
        "TYPE     REASON      MESSAGE                                              FIRST-TIME             LAST-TIME\n"
        "Normal   Scheduled   Successfully assigned skaha-workload/skaha-headless-alice-q3k9x0ab-x7 to node12   "
        "2026-07-01T12:00:01Z   2026-07-01T12:00:01Z\n"
    )
    (event,) = parse_events(text)
    assert event["message"] == "Successfully assigned skaha-workload/skaha-headless-alice-q3k9x0ab-x7 to node12"
    assert event["first_time"] == "2026-07-01T12:00:01Z"


def test_events_none_empty_and_canfar_fixture():
    assert parse_events("<none>\n") == []
    assert parse_events("") == []
    events = parse_events("Header\nType  Reason  Message  First-Seen  Last-Seen\nNormal  Created  Created container  1m  1m")
    assert events == [
        {"type": "Normal", "reason": "Created", "message": "Created container", "first_time": "1m", "last_time": "1m"}
    ]
