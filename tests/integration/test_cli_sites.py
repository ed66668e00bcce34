"""Several sites from one tool: two real ``serve-local`` servers configured as two SRCNet sites."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from srcnet_tui.core.skaha import LaunchSpec, SyncSkaha

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"


def write_config(test_env: dict[str, str], text: str) -> Path:
    path = Path(test_env["XDG_CONFIG_HOME"]) / "srcnet-tui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def site_table(name: str, server) -> str:
    return f'[sites.{name}]\nurl = "{server.url}"\ntoken = "{server.token}"\nstorage_root = "/cavern"\n'


@pytest.fixture
def two_sites(local_server_factory, state_dir, test_env):
    """Sites ``alpha`` and ``beta``, each a serve-local of its own, with one sleeping session each."""
    servers = {name: local_server_factory(state_dir.parent / f"state-{name}") for name in ("alpha", "beta")}
    write_config(test_env, "".join(site_table(name, server) for name, server in servers.items()))
    for name, server in servers.items():
        with SyncSkaha(server.url, token=server.token) as client:
            client.create(LaunchSpec(name=f"job-{name}", image=IMAGE, cmd="sleep", args=["30"], cores=1, ram=1))
    return servers


def test_sessions_sites_and_global_site_across_two_sites(two_sites, cli):
    result = cli("sessions", "--site", "alpha,beta", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted((s["site"], s["name"]) for s in listed) == [("alpha", "job-alpha"), ("beta", "job-beta")]
    table = cli("sessions", "--site", "alpha,beta", env={"COLUMNS": "200"})
    assert "SITE" in table.stdout and "job-beta" in table.stdout

    one = cli("--site", "beta", "sessions", "--json")
    assert [s["name"] for s in json.loads(one.stdout)] == ["job-beta"] and "site beta" in one.stderr
    env_pick = cli("sessions", "--json", env={"SRCNET_SITE": "alpha"})
    assert [s["name"] for s in json.loads(env_pick.stdout)] == ["job-alpha"]

    checked = cli("sites", "alpha", "beta", "local", "--json")
    assert checked.returncode == 0, checked.stderr
    rows = {row["site"]: row for row in json.loads(checked.stdout)}
    assert rows["alpha"]["answers"] is True and rows["alpha"]["credential"] == "token"
    assert rows["alpha"]["storage_root"] == "/cavern"
    assert rows["local"]["detail"] == "not running (starts on first use)"
    assert two_sites["alpha"].token not in checked.stdout + checked.stderr


def test_a_flexible_session_is_listed_with_its_request_and_its_sites_limit(two_sites, cli):
    with SyncSkaha(two_sites["alpha"].url, token=two_sites["alpha"].token) as client:
        client.create(LaunchSpec(name="flex-alpha", image=IMAGE, cmd="sleep", args=["30"]))  # no cores, no RAM
        limit = client.context()["memoryGB"]["defaultLimit"]

    several = {s["name"]: s for s in json.loads(cli("sessions", "--site", "all", "--json").stdout)}
    one = cli("--site", "alpha", "sessions", env={"COLUMNS": "200"})

    flexible = several["flex-alpha"]["allocation"]
    assert flexible["ramGiB"] == {"request": 4.0, "limit": float(limit), "flexible": True}
    assert flexible["cores"]["request"] == 1.0 and "allocation" not in several["job-alpha"]  # fixed: request = limit
    assert "flex-alpha) flexible: requests 1 core / 4 GiB, limit" in one.stdout and f"/ {limit} GiB; RAM in use" in one.stdout


def test_a_frozen_site_is_named_and_does_not_hold_up_the_others(two_sites, cli):
    frozen = two_sites["beta"].proc
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        result = cli("sessions", "--site", "all", "--json", "--timeout", "2")
        elapsed = time.monotonic() - started
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert elapsed < 5.0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)] == ["job-alpha"]
    assert "site beta: no answer within 2 s" in result.stderr
    assert "site cansrc: skipped (no credential for site cansrc" in result.stderr
    assert result.returncode == 4


def test_an_unknown_site_is_one_line_naming_the_known_ones(cli, test_env):
    write_config(test_env, '[sites.alpha]\nurl = "https://alpha.example.org/skaha/v1"\n')
    result = cli("--site", "gamma", "sessions")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --site: no site 'gamma' (known: local, canfar, cansrc, alpha; add [sites.gamma] to the config file)"
    ]


def test_a_token_file_that_is_missing_is_exit_3_naming_it(local_server, cli, test_env, tmp_path):
    write_config(test_env, f'[sites.gamma]\nurl = "{local_server.url}"\ntoken_file = "{tmp_path}/nosuch-token"\n')
    result = cli("--site", "gamma", "sessions")
    assert result.returncode == 3
    assert "nosuch-token: cannot read the token file" in result.stderr
    assert httpx.get(local_server.root + "/availability", trust_env=False).status_code == 200
