"""``submit`` and ``schedule`` on a real local server: the seed files' dry runs, a Job, a CronJob, a submit file."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FIXTURES, ROOT

from srcnet_tui.core.runs.ledger import Ledger

WORKLOADS = FIXTURES / "workloads"
MOUNTS = ("--mount", "tmp=/arc/home/u/tmp", "--mount", "ingest=/arc/home/u/ingest")
CRONJOB = """apiVersion: batch/v1
kind: CronJob
metadata: {name: every-minute}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: c
              image: images.canfar.net/srcnet/tool:1
              command: ["sleep", "60"]
              env: [{name: STAMP, value: "$(TIMESTAMP)"}]
              resources: {requests: {cpu: "1", memory: 1Gi}}
"""


@pytest.fixture
def big_server(local_server_factory):
    """A server that offers the seed Job's 8 cores and 32 GiB (dry runs only: nothing is launched)."""
    return local_server_factory(cores=8, ram_gb=32)


def test_dry_runs_of_the_seed_files_show_tasks_commands_env_resources_and_size(big_server, cli, state_dir):
    job = cli("submit", WORKLOADS / "karabo" / "job.yaml", "--dry-run", *MOUNTS)
    assert job.returncode == 0, job.stderr
    assert "task-001 karabo-aastar-dry-run-001: 8 cores, 32 GiB RAM" in job.stdout
    assert "command: python -m karabo.workflows.SRCNet_SKA-MID_AAstar --dirty --cleaned" in job.stdout
    assert "env NUM_STATIONS=144" in job.stdout and "env OUTPUT_DIR=/arc/home/u/ingest/staging" in job.stdout
    assert "estimated products: 0.368 GiB" in job.stdout and "10296 baselines (144 stations)" in job.stdout
    refused = cli("submit", WORKLOADS / "karabo" / "job.yaml", "--dry-run")
    assert refused.returncode == 2 and "tmp-pvc" in refused.stderr and "ingestor-pvc" in refused.stderr
    cron = json.loads(cli("submit", WORKLOADS / "karabo" / "cronjob.yaml", "--dry-run", "--json").stdout)
    (task,) = cron["tasks"]
    assert task["env"]["OBS_ID"].startswith("aastar-hourly-2") and (task["cores"], task["ram_gb"]) == (2, 8)
    assert cron["estimate"]["total_bytes"] == 8 * 12 * 2016 * 4 * 8 + 2048**2 * 8
    condor = cli("submit", WORKLOADS / "condor" / "do_catalogue.sub", "--dry-run", "--image", "images.canfar.net/srcnet/batch:1")
    assert condor.returncode == 0, condor.stderr
    for number, exposure in enumerate(("1056215p", "1056216p", "1056217p", "1056218p"), start=1):
        assert f"task-{number:03d} do-catalogue-dry-run-{number:03d}: 2 cores, 8 GiB RAM" in condor.stdout
        assert f"command: ./do_catalogue.bash {exposure}" in condor.stdout
    assert "ram: 7 is not offered" in condor.stderr
    assert not (state_dir / "runs.sqlite").exists() or not Ledger(state_dir).runs()


def test_a_job_runs_end_to_end_and_writes_what_its_estimate_said(tmp_path, local_server_factory, cli, state_dir):
    local_server_factory(cores=2)
    workflow = state_dir / "arc" / "home" / "demo" / "workflow"
    workflow.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "k8s" / "aastar_standin.py", workflow)
    manifest = ROOT / "examples" / "k8s" / "aastar-job.yaml"
    mount = ("--mount", "workflow=/arc/home/demo/workflow", "--vos-dir", "/arc/home/demo/runs")
    estimate = json.loads(cli("submit", manifest, "--dry-run", "--json", *mount).stdout)["estimate"]
    proc = cli("submit", manifest, "--json", *mount, timeout=90)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    results = state_dir / "runs" / result["id"]
    for index, expected in enumerate(estimate["per_task_bytes"]):
        written = sum(p.stat().st_size for p in results.glob(f"standin_{index}_*"))
        assert written == expected
    assert json.loads((results / "run.json").read_text())["kind"] == "k8s"
    assert [row["run"] for row in result["usage"]["runs"]] == ["task-001", "task-002"]
    again = cli("rerun", result["id"], "--dry-run", "--json")  # the manifest read again, with the run's --mount
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["kind"] == "k8s"


def test_a_submit_file_runs_and_its_output_error_and_log_come_back_next_to_it_when_resumed(tmp_path, local_server_factory, cli):
    local_server_factory(cores=2)
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "hello.sh").write_text('#!/bin/sh\necho "catalogue of $1" > "$1.cat"\necho "did $1"\necho "note $1" >&2\n')
    (folder / "hello.sub").write_text(
        "executable = hello.sh\noutput = hello-$(arguments).out\nerror = hello-$(arguments).err\nlog = hello-$(arguments).log\n"
        "request_cpus = 1\nrequest_memory = 512 MB\nqueue arguments from (\n  e1\n  e2\n)\n"
    )
    submitted = cli(
        "submit", folder / "hello.sub", "--image", "images.canfar.net/srcnet/batch:1", "--vos-dir", "/arc/home/u/b", "--no-wait",
        "--json",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    proc = cli("resume", json.loads(submitted.stdout)["id"], timeout=90)  # not submit: the run still knows where they go
    assert proc.returncode == 0, proc.stderr
    for exposure in ("e1", "e2"):
        assert (folder / f"hello-{exposure}.out").read_text() == f"did {exposure}\n"
        assert (folder / f"hello-{exposure}.err").read_text() == f"note {exposure}\n"
        assert (folder / f"hello-{exposure}.log").read_text().startswith("elapsed_time,")  # the recorder's log
    assert "task-002" in proc.stdout  # the usage table
    again = cli("rerun", json.loads(submitted.stdout)["id"], "--dry-run")  # the submit file read again
    assert again.returncode == 0, again.stderr
    assert "task command: ./hello.sh e1" in again.stdout


def test_a_forbid_cronjob_launches_nothing_while_its_last_run_is_active(tmp_path, local_server_factory, cli, state_dir):
    local_server_factory(cores=2)
    manifest = tmp_path / "cron.yaml"
    manifest.write_text(CRONJOB)
    first = cli("submit", manifest, "--no-wait", "--json")
    assert first.returncode == 0, first.stderr
    second = cli("submit", manifest)
    assert second.returncode == 0, second.stderr
    run_id = json.loads(first.stdout)["id"]
    assert f"run {run_id} of this CronJob is still active (concurrencyPolicy: Forbid); nothing launched" in second.stderr
    with Ledger(state_dir) as ledger:
        assert [run.id for run in ledger.runs()] == [run_id]
    line = cli("schedule", manifest).stdout.strip()
    assert line.startswith("* * * * * ") and f" submit {manifest} " in line and "--headless" in line
    assert "token" not in line.lower()
