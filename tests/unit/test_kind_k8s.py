"""Kubernetes Jobs and CronJobs read into runs: the seed 001 manifests, what maps and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.kinds.k8s import read_manifest
from srcnet_tui.core.runs.plan import plan_run

KARABO = FIXTURES / "workloads" / "karabo"
VOS = "/arc/home/u/runs"
MOUNTS = {"tmp": "/arc/home/u/tmp", "ingest": "/arc/home/u/ingest"}
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


JOB = """apiVersion: batch/v1
kind: Job
metadata: {{name: demo}}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      containers:
        - name: c
          image: images.canfar.net/srcnet/tool:1
          command: ["tool"]
          args: ["--part", "$(PART)"]
          env:
            - {{name: PART, value: "p$(JOB_COMPLETION_INDEX)"}}
{extra}
          resources: {{requests: {{cpu: 500m, memory: 1500Mi}}}}
"""


def test_the_seed_job_maps_image_command_env_and_limits_once_its_volumes_are_mapped():
    manifest = read_manifest(KARABO / "job.yaml", VOS, MOUNTS)
    plan = plan_run(manifest.config, "r1", now=NOW)
    (task,) = plan.tasks
    assert task.image == "images.canfar.net/srcnet/karabo-pipeline:0.21.0"
    assert task.command_line == ["python", "-m", "karabo.workflows.SRCNet_SKA-MID_AAstar", "--dirty", "--cleaned"]
    assert (task.cores, task.ram_gb) == (8, 32)  # the limits: on Skaha a session's request is its limit
    assert task.env["OBS_ID"] == "aastar-obs-0001" and task.env["OUTPUT_DIR"] == "/arc/home/u/ingest/staging"
    ms = 16 * 24 * (144 * 143 // 2) * 4 * 8
    assert plan.estimate is not None and plan.estimate.per_task == (ms + 2 * 4096**2 * 8,)
    assert "10296 baselines (144 stations)" in plan.estimate.basis


def test_unmapped_persistent_volume_claims_are_all_named_with_the_way_to_map_them():
    with pytest.raises(UsageError) as caught:
        read_manifest(KARABO / "job.yaml", VOS)
    message = str(caught.value)
    assert message.startswith("job.yaml: spec.template.spec.volumes: ")
    assert "tmp at /tmp/karabo (persistentVolumeClaim tmp-pvc)" in message
    assert "ingest at /ingest (persistentVolumeClaim ingestor-pvc)" in message
    assert "--mount tmp=/arc/... --mount ingest=/arc/..." in message


def test_a_cronjob_is_one_run_now_with_its_timestamp_expanded_and_its_schedule_kept():
    manifest = read_manifest(KARABO / "cronjob.yaml", VOS)
    assert (manifest.kind, manifest.schedule, manifest.forbid_concurrent) == ("CronJob", "0 * * * *", True)
    (task,) = plan_run(manifest.config, "r1", now=NOW).tasks
    assert task.env["OBS_ID"] == "aastar-hourly-20261201T180000Z" and task.env["FILE_PREFIX"] == "aastar_20261201T180000Z_"
    assert (task.cores, task.ram_gb) == (2, 8)


def test_completions_become_indexed_tasks_and_parallelism_the_cap(tmp_path):
    config = read_manifest(_write(tmp_path, JOB.format(extra="")), VOS).config
    plan = plan_run(config, "r1")
    assert [t.command_line for t in plan.tasks] == [["tool", "--part", f"p{i}"] for i in range(3)]
    assert [t.env["JOB_COMPLETION_INDEX"] for t in plan.tasks] == ["0", "1", "2"]
    assert config.max_parallel == 2 and (plan.tasks[0].cores, plan.tasks[0].ram_gb) == (1, 2)


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("            - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: pw}}}", "env[1].valueFrom", "secret_env"),
        ('            - {name: X, value: "$(NOPE)"}', "env[1].value", "$(NOPE) names no env entry"),
    ],
)
def test_what_a_session_cannot_have_is_refused_naming_the_field(tmp_path, extra, field, words):
    with pytest.raises(UsageError) as caught:
        read_manifest(_write(tmp_path, JOB.format(extra=extra)), VOS)
    assert f"job.yaml: spec.template.spec.containers[0].{field}: " in str(caught.value) and words in str(caught.value)


def test_node_selectors_and_non_jobs_are_refused(tmp_path):
    text = JOB.format(extra="").replace(
        "    spec:\n      containers:", "    spec:\n      nodeSelector: {gpu: a100}\n      containers:"
    )
    with pytest.raises(UsageError, match=r"spec\.template\.spec\.nodeSelector: has no Skaha equivalent"):
        read_manifest(_write(tmp_path, text), VOS)
    with pytest.raises(UsageError, match=r"kind: must be a batch/v1 Job or CronJob, not v1 Pod"):
        read_manifest(_write(tmp_path, "apiVersion: v1\nkind: Pod\n"), VOS)
    with pytest.raises(UsageError, match=r"job\.yaml: line 2: not valid YAML"):
        read_manifest(_write(tmp_path, "kind: Job\n  bad: [\n"), VOS)


def test_gpus_are_asked_for_and_env_from_is_refused(tmp_path):
    gpu_job = JOB.format(extra="").replace(
        "requests: {cpu: 500m, memory: 1500Mi}", "limits: {cpu: 2, memory: 4Gi, nvidia.com/gpu: 1}"
    )
    assert read_manifest(_write(tmp_path, gpu_job), VOS).config.gpus == 1
    env_from = JOB.format(extra="").replace(
        "          resources:", "          envFrom: [{secretRef: {name: db}}]\n          resources:"
    )
    with pytest.raises(UsageError, match=r"containers\[0\]\.envFrom: has no Skaha equivalent \(list the variables under env"):
        read_manifest(_write(tmp_path, env_from), VOS)
