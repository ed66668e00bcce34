"""Accounting arithmetic: --since spans, seff-array's histogram bins, the peak memory a task reached."""

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
