"""Env presets, env files and secrets: what every task gets, and secrets kept out of everything but the launch."""

from __future__ import annotations

import json

import pytest

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import check_run_config
from srcnet_tui.core.runs.environment import ENV_PRESETS
from srcnet_tui.core.runs.plan import plan_run
from srcnet_tui.core.runs.spec import TaskSpec

BASE = {
    "kind": "command",
    "vos_dir": "/arc/p",
    "image": "images.canfar.net/srcnet/arrakis:1",
    "command": "spice_process",
    "ram": "2",
}
SECRET = "s3cr3t-Mongo-pw"


def _config(tmp_path, **values):
    return check_run_config(tmp_path / "c.ini", "arrakis", "task", {**BASE, **values})


def test_the_preset_then_the_env_file_then_env_each_override_the_one_before(tmp_path):
    (tmp_path / "site.env").write_text(
        "# site settings\nexport DASK_DISTRIBUTED__COMM__RETRY__COUNT=20\nPREFECT_HOME='/arc/p/prefect'\n"
    )
    config = _config(tmp_path, env_preset="dask-stable", env_file="site.env", env="PREFECT_HOME=/arc/p/other")
    (task,) = plan_run(config, "r1").tasks
    assert task.env == {
        **ENV_PRESETS["dask-stable"],
        "DASK_DISTRIBUTED__COMM__RETRY__COUNT": "20",
        "PREFECT_HOME": "/arc/p/other",
    }
    assert task.env["DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION"] == "0.01" and len(ENV_PRESETS["dask-stable"]) == 11


def test_a_secret_is_named_in_the_plan_and_read_only_into_the_launch_request(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"MONGO_PASSWORD={SECRET}\n")
    secrets.chmod(0o600)
    plan = plan_run(_config(tmp_path, secret_env="MONGO_PASSWORD, PREFECT_KEY", secrets_file="secrets.env"), "r1")
    monkeypatch.setenv("PREFECT_KEY", "from-the-caller")
    (task,) = plan.tasks
    recorded = json.dumps([plan.to_dict(), task.to_dict(), plan.describe()])
    assert SECRET not in recorded and "MONGO_PASSWORD" in recorded
    assert TaskSpec.from_dict(task.to_dict()) == task
    launched = task.launch_spec().env
    assert launched["MONGO_PASSWORD"] == SECRET and launched["PREFECT_KEY"] == "from-the-caller"


def test_a_secrets_file_others_can_read_is_refused(tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"MONGO_PASSWORD={SECRET}\n")
    secrets.chmod(0o644)
    with pytest.raises(UsageError, match=r"c\.ini \[arrakis\] secrets_file: .* is readable by others \(mode 0644\); .*chmod 600"):
        _config(tmp_path, secret_env="MONGO_PASSWORD", secrets_file="secrets.env")


def test_a_missing_secret_is_named_without_any_value(tmp_path, monkeypatch):
    monkeypatch.delenv("MONGO_PASSWORD", raising=False)
    (task,) = plan_run(_config(tmp_path, secret_env="MONGO_PASSWORD"), "r1").tasks
    with pytest.raises(UsageError, match=r"^secret_env MONGO_PASSWORD: not set in the environment$"):
        task.launch_spec()


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"env_preset": "dask-fast"}, "env_preset", "must be one of dask-stable"),
        ({"env_file": "bad.env"}, "env_file", "bad.env line 2: expected KEY=VALUE"),
        ({"secret_env": "MONGO-PASSWORD"}, "secret_env", "is not an environment variable name"),
    ],
)
def test_bad_env_settings_are_refused_naming_the_key(tmp_path, values, key, words):
    (tmp_path / "bad.env").write_text("A=1\nnot an entry\n")
    with pytest.raises(UsageError, match=rf"^c\.ini \[arrakis\] {key}: .*{words}"):
        _config(tmp_path, **values)
