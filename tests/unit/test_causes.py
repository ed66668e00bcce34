"""Causes a user can act on: out of memory with a RAM suggestion the site offers, deadline, preemption, exit codes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from srcnet_tui.core.runs.causes import classify, offered_ram, preempted, ram_advice, retry_hints
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec
from srcnet_tui.core.skaha_rules import CHART_RAM_GIB

OUTPUTS = TaskOutputs("/arc/r1/task-001", "r1_001", "p.txt", "r1_001_sofia.log", ())
SPEC = TaskSpec(1, "s-r1-001", None, "/arc/r1/a.par", 2, 2, [], OUTPUTS, "img:1")
TASK = TaskRecord("r1", 1, "s-r1-001", 1, "failed", "s1", None, None, None, None, None, SPEC)
OOM_EVENT = {"type": "Warning", "reason": "OOMKilled", "message": "Container main was OOMKilled: its processes used 2.47 GB"}


def _failed(exit_code=None, message=None, ram_gb=2):
    return replace(TASK, exit_code=exit_code, message=message, spec=replace(SPEC, ram_gb=ram_gb))


def test_out_of_memory_names_the_peak_and_suggests_ram_the_site_offers():
    summary = {"signal": 9, "rusage_tree": {"max_rss_mib": 2.3 * 1024}}
    cause = classify(_failed(137), summary, [OOM_EVENT], ram_options=CHART_RAM_GIB)
    assert (cause.state, cause.text, cause.advice) == (
        "oom",
        "out of memory: peak 2.3 GiB of 2 GiB requested",
        "retry with --ram 4",
    )


def test_out_of_memory_without_a_summary_uses_the_profile_logs_peak_or_doubles():
    from_log = classify(_failed(), None, [OOM_EVENT], ram_options=(1, 2, 4, 6, 8), peak_gb=2.05)
    assert (from_log.state, from_log.text, from_log.advice) == (
        "oom",
        "out of memory: peak 2.0 GiB of 2 GiB requested",
        "retry with --ram 4",
    )
    unknown = classify(_failed(), None, [OOM_EVENT], ram_options=(1, 2, 6, 8))
    assert unknown.text == "out of memory: killed at its 2 GiB limit (OOMKilled)" and unknown.advice == "retry with --ram 6"


def test_a_sigkill_at_the_memory_limit_is_out_of_memory_even_without_the_event():
    summary = {"signal": 9, "rusage_tree": {"max_rss_mib": 1.95 * 1024}}
    assert classify(_failed(137), summary, []).state == "oom"
    assert classify(_failed(137), {"signal": 9, "rusage_tree": {"max_rss_mib": 100}}, []).text == "killed by signal 9 (SIGKILL)"


@pytest.mark.parametrize(
    ("options", "advice"),
    [
        ((1, 2, 4), "retry with --ram 4, the most this site offers (it may not be enough), or split the input"),
        ((1, 2), "it needs more than the 2 GiB this site offers: split the input into smaller regions"),
        ((), "retry with --ram 8"),
    ],
)
def test_ram_advice_stays_within_what_the_site_offers(options, advice):
    assert ram_advice(6.0, 2, options) == advice


def test_the_sites_ram_options_come_from_its_context():
    assert offered_ram({"memoryGB": {"options": [4, 1, 2], "default": 2}}) == [1, 2, 4]
    assert offered_ram({"availableRAM": [1, 2]}) == [1, 2] and offered_ram(None) == []


def test_a_sofia_exit_code_says_what_it_means_once_with_the_error_line():
    tail = ["Loading data cube", "\x1b[31mERROR: Failed to parse scfind.threshold\x1b[0m", "Terminating with error code 7."]
    cause = classify(_failed(7, "exit code 7"), {"finder": "sofia", "finder_exit_code": 7}, [], tail=tail)
    assert cause.state == "failed" and cause.text == "exit 7: ERROR: Failed to parse scfind.threshold"
    assert cause.advice == "SoFiA-2 rejected its input: fix the parameter the ERROR line names, then retry"
    assert cause.text.count("7") == 1 and cause.tail == tuple(tail)
    memory = classify(_failed(3), {"finder": "sofia"}, [], ram_options=CHART_RAM_GIB)
    assert memory.advice == "SoFiA-2 could not allocate memory: retry with --ram 4"


def test_another_finders_exit_shows_its_last_log_line():
    cause = classify(_failed(2), {"finder": "bdsf"}, [], tail=["reading image", "Traceback: boom", ""])
    assert (cause.text, cause.advice) == ("exit 2", "the log ends: Traceback: boom")


def test_deadline_deleted_lost_preempted_and_results():
    deadline = {"reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}
    assert classify(_failed(), None, [deadline]).advice == "retry with more time"
    assert classify(_failed(143), {"signal": 15}, []).state == "deleted"
    lost = classify(replace(TASK, state="lost", message="the session vanished"), None, [])
    assert (lost.state, lost.text) == ("lost", "the session vanished")
    assert preempted(0.0).advice == "the platform preempted it; nothing to change" and preempted(0.0).state == "preempted"
    assert classify(replace(TASK, state="completed"), {}, []).state == "completed"
    assert classify(replace(TASK, state="no-sources"), {}, []).text == "no sources found"


def test_a_peak_sampled_before_the_allocation_that_went_over_is_not_shown_as_the_peak():
    cause = classify(_failed(), None, [OOM_EVENT], ram_options=CHART_RAM_GIB, peak_gb=0.2)
    assert cause.text == "out of memory: killed at its 2 GiB limit (OOMKilled)" and cause.advice == "retry with --ram 4"


def test_retry_hints_name_each_failure_and_the_command_with_the_most_ram_advised():
    oom = replace(TASK, index=2, message="out of memory: peak 2.3 GiB of 2 GiB requested", advice="retry with --ram 4")
    bad = replace(TASK, index=3, message="exit 7", advice="SoFiA-2 rejected its input: fix it")
    sofia = replace(TASK, index=4, message="exit 3", advice="SoFiA-2 could not allocate memory: retry with --ram 6")
    assert retry_hints("r1", [replace(TASK, state="completed"), oom, bad, sofia], "srcnet-tui --headless") == [
        "  task-002: out of memory: peak 2.3 GiB of 2 GiB requested; retry with --ram 4",
        "  task-003: exit 7; SoFiA-2 rejected its input: fix it",
        "  task-004: exit 3; SoFiA-2 could not allocate memory: retry with --ram 6",
        "retry them with: srcnet-tui --headless retry r1 --ram 6",
    ]
    assert retry_hints("r1", [replace(TASK, state="completed")], "srcnet-tui --headless") == []
    assert retry_hints("r1", [oom], "srcnet --headless")[-1] == "retry them with: srcnet --headless retry r1 --ram 4"
