"""A task's progress line says its exit code once, then what to do about it."""

from __future__ import annotations

from dataclasses import replace

from srcnet_tui.core.cli.runs import task_detail
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.spec import TaskOutputs, TaskSpec

OUTPUTS = TaskOutputs("/arc/r1/task-001", "r1_001", "p.txt", "r1_001_sofia.log", ())
SPEC = TaskSpec(1, "s-r1-001", None, "/arc/r1/a.par", 2, 2, [], OUTPUTS, "img:1")
TASK = TaskRecord("r1", 1, "s-r1-001", 1, "failed", "s1", None, None, None, None, None, SPEC)


def test_an_exit_code_the_cause_names_is_said_once_and_the_advice_follows():
    failed = replace(
        TASK, exit_code=7, message="exit 7: ERROR: Failed to parse scfind.threshold", advice="SoFiA-2 rejected its input: fix it"
    )
    assert (
        task_detail(failed) == " session s1 (exit 7: ERROR: Failed to parse scfind.threshold); SoFiA-2 rejected its input: fix it"
    )


def test_an_exit_code_the_message_does_not_name_is_still_said():
    killed = replace(TASK, exit_code=137, message="out of memory: peak 2.3 GB of 2 GB requested", advice="retry with --ram 4")
    assert task_detail(killed) == " session s1, exit 137 (out of memory: peak 2.3 GB of 2 GB requested); retry with --ram 4"
    assert task_detail(replace(TASK, state="completed", exit_code=0, message="done")) == " session s1, exit 0"
