"""kind = command: one task per argument, templates expanded once at planning, nothing a session would mangle."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import check_run_config
from srcnet_tui.core.runs.plan import plan_run
from srcnet_tui.core.runs.spec import TaskSpec

BASE = {"kind": "command", "vos_dir": "/arc/projects/p", "image": "images.canfar.net/srcnet/tool:1", "cores": "1", "ram": "2"}
NOW = datetime(2026, 12, 1, 18, 0, 5, tzinfo=UTC)


def _plan(tmp_path, **values):
    config = check_run_config(tmp_path / "c.ini", "work", "parallel", {**BASE, **values})
    return plan_run(config, "run-1", now=NOW)


def test_one_task_per_argument_with_every_template_expanded(tmp_path):
    plan = _plan(
        tmp_path,
        command="tool --obs {arg} --id {run_id}-{task}-{index} --at {timestamp}",
        arguments="a1 b2 c3",
        env="OBS=obs-{arg}, STAMP={timestamp}",
        products="{arg}.cat, *.png",
    )
    assert plan.run_kind == "command" and [t.index for t in plan.tasks] == [1, 2, 3]
    second = plan.tasks[1]
    assert second.command_line == ["tool", "--obs", "b2", "--id", "run-1-task-002-1", "--at", "20261201T180005Z"]
    assert second.env == {"OBS": "obs-b2", "STAMP": "20261201T180005Z"}
    assert second.outputs.products == (
        "profile_002.txt",
        "profile_002.txt.summary.json",
        "task-002.out",
        "task-002.err",
        "b2.cat",
        "*.png",
    )
    assert second.cmd == "srcnet-task" and second.args[0] == "exec" and (second.cores, second.ram_gb) == (1, 2)
    assert TaskSpec.from_dict(second.to_dict()) == second  # the expanded values are what the ledger keeps


def test_arguments_file_gives_one_task_per_line_and_comments_are_skipped(tmp_path):
    listing = tmp_path / "ids.txt"
    listing.write_text("# exposures\n1056215p\n\n1056216p\n")
    plan = _plan(tmp_path, command="do {arg}", arguments_file=str(listing))
    assert [t.command_line for t in plan.tasks] == [["do", "1056215p"], ["do", "1056216p"]]


def test_without_arguments_there_is_one_task_and_no_products_means_everything_comes_back(tmp_path):
    plan = _plan(tmp_path, command="python3 -m workflow")
    assert len(plan.tasks) == 1 and plan.tasks[0].outputs.products == ()


def test_local_inputs_are_staged_once_and_linked_into_every_task(tmp_path):
    script = tmp_path / "step.py"
    script.write_text("print('hi')\n")
    plan = _plan(tmp_path, command="python3 step.py {arg}", arguments="1 2", inputs="step.py")
    assert [u.remote for u in plan.uploads] == ["/arc/projects/p/run-1/inputs/c.ini", "/arc/projects/p/run-1/inputs/step.py"]
    assert all(t.args[t.args.index("--input") + 1] == "/arc/projects/p/run-1/inputs/step.py" for t in plan.tasks)


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"command": "tool {colour}"}, "command", "bad template"),
        ({"command": "tool 'two words'"}, "command", "whitespace"),
        ({"command": "tool $(HOME)"}, "command", "Kubernetes would expand"),
        ({"command": "tool 'unclosed"}, "command", "cannot be split"),
        ({"command": "tool", "arguments": "a", "arguments_file": "x.txt"}, "arguments", "not both"),
        ({"command": "tool", "stdout": "logs/out.txt"}, "stdout", "file name"),
        ({"command": ""}, "command", "is required"),
        ({"command": "tool", "image": ""}, "image", "is required for kind = command"),
        ({"command": "tool", "kind": "shell"}, "kind", "must be one of"),
        ({"kind": "sofia", "finder": "bdsf", "image_file": "/arc/c.fits", "parameter_file_dir": "."}, "finder", "conflicts"),
    ],
)
def test_what_cannot_run_is_refused_naming_file_section_and_key(tmp_path, values, key, words):
    (tmp_path / "x.txt").write_text("a\n")
    with pytest.raises(UsageError, match=rf"^c\.ini \[work\] {key}: .*{words}") as caught:
        _plan(tmp_path, **values)
    assert caught.value.key == key


def test_finder_keys_do_not_apply_to_a_command_run_and_are_not_shown(tmp_path):
    plan = _plan(tmp_path, command="tool")
    shown = {key for key, _, _ in plan.config.describe()}
    assert {"command", "arguments", "products"} <= shown
    assert not shown & {"image_file", "parameter_file", "split", "finder", "overlap"}
