"""Accounting arithmetic: --since spans, seff-array's histogram bins, the peak memory a task reached, request and limit."""

from __future__ import annotations

import pytest

from srcnet_tui.core import accounting


@pytest.mark.parametrize("since, back_s", [("30d", 30 * 86400), ("12h", 12 * 3600), ("2w", 14 * 86400), ("90m", 5400)])
def test_since_takes_spans_back_from_now(since, back_s):
    assert accounting.parse_since(since, now=1.8e9) == 1.8e9 - back_s


def test_since_takes_a_utc_date():
    assert accounting.parse_since("2026-01-31") == 1769817600.0


def test_histogram_bins_put_exactly_full_use_in_the_top_bin_and_more_above():
    assert accounting.histogram([0.0, 0.05, 0.999, 1.0, 1.3, None]) == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1]


def test_a_memory_spike_between_samples_counts_from_the_kernels_peak():
    assert accounting.peak_rss_mib({"rss_peak_mib": 80.0, "rusage_max_rss_mib": 300.0}) == 300.0
    assert accounting.peak_rss_mib({"rss_peak_mib": 500.0, "rusage_max_rss_mib": 300.0}) == 500.0  # several processes
    assert accounting.peak_rss_mib({"rss_peak_mib": 80.0}) == 80.0 and accounting.peak_rss_mib({}) is None


def test_a_flexible_session_has_a_request_and_a_limit_and_its_memory_is_measured_against_the_limit():
    from srcnet_tui.core.models import Session

    context = {"cores": {"defaultRequest": 1, "defaultLimit": 8}, "memoryGB": {"defaultRequest": 4, "defaultLimit": 32}}
    flexible = Session.from_json({"id": "f", "type": "headless", "ramInUse": "8.59", "isFixedResources": False})
    allocation = accounting.session_allocation(flexible, context)
    assert allocation.flexible and (allocation.cores.request, allocation.cores.limit) == (1.0, 8.0)
    assert (allocation.ram_gib.request, allocation.ram_gib.limit) == (4.0, 32.0)
    assert allocation.mem_use_of_limit == pytest.approx(8.0 / 32, rel=1e-3)  # twice its request, a quarter of its limit
    assert allocation.describe() == "flexible: requests 1 core / 4 GiB, limit 8 cores / 32 GiB; RAM in use 25% of the limit"
    assert allocation.to_json()["ramGiB"] == {"request": 4.0, "limit": 32.0, "flexible": True}

    fixed = Session.from_json({"id": "x", "requestedCPUCores": "2", "requestedRAM": "4.29", "ramInUse": "2.15"})
    allocation = accounting.session_allocation(fixed, context)
    assert not allocation.flexible and allocation.cores.request == allocation.cores.limit == 2.0
    assert allocation.ram_gib.limit == pytest.approx(4.0, rel=1e-2) and allocation.mem_use_of_limit == pytest.approx(
        0.5, rel=1e-2
    )
    assert accounting.session_allocation(flexible, {}).ram_gib.limit == 32.0  # no context entry: the shipped chart's


def test_aggregate_rows_the_ledger_knows_say_their_requests_are_fixed(tmp_path):
    log = tmp_path / "task-000.csv"
    log.write_text("")
    account = accounting.TaskAccount(
        run_id="r1", site="local", task="task-000", attempt=1, state="completed", cause=None, submitted=None,
        started=None, finished=None, cores=2, ram_gib=4, wall_s=None, cpu_hours=None, rss_peak_mib=None,
    )  # fmt: skip
    row = {"source": str(log), "wall_s": 10.0, "cpu_hours": 0.004, "rss_peak_mib": 1024.0}
    known = accounting.with_accounts({"runs": [dict(row)]}, {str(log.resolve()): account})
    assert known["requests_note"] == accounting.FIXED_TASKS_NOTE and "never flexible" in known["requests_note"]
    assert known["runs"][0]["mem_efficiency"] == 0.25  # peak RSS against the request, which is also the limit
    assert "requests_note" not in accounting.with_accounts({"runs": [dict(row)]}, {})  # logs the ledger does not know
