"""HTCondor submit descriptions read into runs: seed 003's do_catalogue.sub, queue forms, macros, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.kinds.condor import read_submit_file
from srcnet_tui.core.runs.plan import plan_run

CONDOR = FIXTURES / "workloads" / "condor"
VOS = "/arc/home/u/runs"
IMAGE = "images.canfar.net/srcnet/batch:1"


def _submit(tmp_path: Path, text: str) -> Path:
    (tmp_path / "job.sh").write_text("#!/bin/sh\necho $1\n")
    path = tmp_path / "job.sub"
    path.write_text(text)
    return path


def test_the_seed_submit_file_is_one_task_per_queued_argument_with_its_files_named_by_it():
    submission = read_submit_file(CONDOR / "do_catalogue.sub", VOS, IMAGE)
    plan = plan_run(submission.config, "r1", context={"memoryGB": {"options": [1, 2, 4, 8, 16]}, "cores": {"options": [1, 2, 4]}})
    ids = ["1056215p", "1056216p", "1056217p", "1056218p"]
    assert [t.command_line for t in plan.tasks] == [["./do_catalogue.bash", i] for i in ids]
    first = plan.tasks[0]
    assert (first.cores, first.ram_gb) == (2, 8)  # 7 GB is not offered: the smallest option above it
    assert "ram: 7 is not offered by the platform, so each task asks for 8" in plan.adjustments[0]
    args = first.args
    assert args[args.index("--stdout") + 1] == "do_catalogue-1056215p.out"
    assert args[args.index("--stderr") + 1] == "do_catalogue-1056215p.err"
    assert first.outputs.profile_log == "do_catalogue-1056215p.log"
    assert [u.local.name for u in plan.uploads] == ["do_catalogue.sub", "do_catalogue.bash"]


def test_queue_n_and_process_and_cluster_macros(tmp_path):
    path = _submit(tmp_path, "executable = job.sh\narguments = part-$(Process) of-$(Cluster)\noutput = o.$(Process)\nqueue 3\n")
    plan = plan_run(read_submit_file(path, VOS, IMAGE).config, "r1")
    assert [t.command_line for t in plan.tasks] == [["./job.sh", f"part-{i}", "of-r1"] for i in range(3)]


def test_queue_from_a_file_and_a_submit_key_used_as_a_macro(tmp_path):
    (tmp_path / "ids.txt").write_text("# exposures\na\nb\n")
    path = _submit(
        tmp_path, "executable = job.sh\noutput = $(item).out\narguments = $(item) --to $(output)\nqueue item from ids.txt\n"
    )
    plan = plan_run(read_submit_file(path, VOS, IMAGE).config, "r1")
    assert [t.command_line for t in plan.tasks] == [["./job.sh", "a", "--to", "a.out"], ["./job.sh", "b", "--to", "b.out"]]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("executable = job.sh\nmode = fast\nqueue\n", "job.sub line 2: mode: has no Skaha equivalent"),
        (
            'executable = job.sh\nrequirements = (OpSys == "LINUX")\nqueue\n',
            "job.sub line 2: requirements: has no Skaha equivalent",
        ),
        ("executable = job.sh\nuniverse = grid\nqueue\n", "job.sub line 2: universe grid"),
        ("executable = job.sh\narguments = $(Nope)\nqueue\n", "job.sub line 2: $(Nope) is not a macro"),
        ("executable = job.sh\n", "no queue statement"),
        ("executable = job.sh\nqueue arguments from (\n", "has no closing"),
    ],
)
def test_what_a_session_cannot_do_is_refused_naming_the_line(tmp_path, text, words):
    with pytest.raises(UsageError) as caught:
        read_submit_file(_submit(tmp_path, text), VOS, IMAGE)
    assert words in str(caught.value)


def test_a_submit_file_without_an_image_asks_for_one(tmp_path):
    with pytest.raises(UsageError, match="names no container_image; give the image the jobs run in with --image"):
        read_submit_file(_submit(tmp_path, "executable = job.sh\nqueue\n"), VOS)


def test_the_environment_key_becomes_every_tasks_env(tmp_path):
    path = _submit(tmp_path, "executable = job.sh\nenvironment = \"MODE=fast LABEL='run $(Process)'\"\nqueue 2\n")
    plan = plan_run(read_submit_file(path, VOS, IMAGE).config, "r1")
    assert [t.env for t in plan.tasks] == [{"MODE": "fast", "LABEL": "run 0"}, {"MODE": "fast", "LABEL": "run 1"}]
