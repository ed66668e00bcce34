"""What a run records of its files across attempts and kinds: copies moved aside for a retry stay
verifiable, a run without input data records none, an HTCondor run's job files go next to its submit file."""

from __future__ import annotations

from pathlib import Path

from srcnet_tui.core.runs import checksums
from srcnet_tui.core.runs.attempts import keep_attempt_files
from srcnet_tui.core.runs.collecting import collect, deliver_job_files
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.manifest import input_checksums
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs, TaskSpec, Upload
from srcnet_tui.core.runs.staging import stored_inputs
from srcnet_tui.core.runs.storage import LocalArc
from srcnet_tui.core.runs.verifying import local_problem

OUTPUTS = TaskOutputs("/arc/r1/task-001", "r1_001", "profile_001.txt", "r1_001.out", ())
EXEC_ARGS = ["exec", "--log", "hello-e1.log", "--stdout", "hello-e1.out", "--stderr", "hello-e1.err", "--", "./x", "--log"]
SPEC = TaskSpec(1, "s-r1-001", None, "", 1, 1, EXEC_ARGS, OUTPUTS, "img:1")
TASK = TaskRecord("r1", 1, "s-r1-001", 1, "failed", "s1", 1, "exit 1", None, None, None, SPEC)


def _plan(tmp_path: Path, kind: str = "command", input_data: str = "") -> RunPlan:
    definition = tmp_path / "hello.sub"
    definition.write_text("queue\n")
    upload = Upload(definition, "/arc/r1/inputs/hello.sub")
    return RunPlan("r1", kind, {"file": str(definition)}, "img:1", 0, {}, "/arc/r1", input_data, (upload,))


def test_the_copies_an_attempt_leaves_are_recorded_where_they_were_moved(tmp_path):
    storage, local_dir = LocalArc(tmp_path / "arc"), tmp_path / "results"
    local_dir.mkdir()
    folder = tmp_path / "arc" / "r1" / "task-001"
    folder.mkdir(parents=True)
    (folder / "profile_001.txt").write_text("not a profile\n")
    (folder / "r1_001.out").write_text("first attempt\n")
    collect(storage, [TASK], local_dir)

    keep_attempt_files(storage, TASK, local_dir)  # the next attempt may never write these again

    recorded = checksums.recorded(local_dir, checksums.COLLECTED)
    assert sorted(Path(c.path).name for c in recorded) == ["profile_001.a1.txt", "r1_001.a1.out"]
    assert all(local_problem(c) is None and c.source is None for c in recorded)


def test_a_run_without_input_data_records_only_what_it_staged(tmp_path):
    storage, plan = LocalArc(tmp_path / "arc"), _plan(tmp_path)
    assert stored_inputs(storage, plan) == []
    assert [entry["path"] for entry in input_checksums(plan, storage, tmp_path)] == ["/arc/r1/inputs/hello.sub"]


def test_an_htcondor_runs_job_files_go_next_to_its_submit_file_whoever_finishes_it(tmp_path):
    local_dir = tmp_path / "results"
    local_dir.mkdir()
    for name in ("hello-e1.log", "hello-e1.out", "hello-e1.err"):
        (local_dir / name).write_text(name)
    delivered = deliver_job_files(_plan(tmp_path, "condor"), [TASK], local_dir)
    assert sorted(p.name for p in delivered) == ["hello-e1.err", "hello-e1.log", "hello-e1.out"]
    assert (tmp_path / "hello-e1.out").read_text() == "hello-e1.out"
    assert deliver_job_files(_plan(tmp_path, "command"), [TASK], local_dir) == []
