"""Runs at a site: two real ``serve-local`` servers as two sites (``server_dir``), and storage roots.

A run launched on site B is recorded there, survives ``kill -9`` of the CLI, and is resumed and
collected on B; ``resume`` at site A is refused with one line. A ``/cavern`` site (a serve-local
reached by its URL, as a remote site is) takes ``/cavern`` paths as storage paths and refuses ``/arc`` ones
unless the user maps them; a site played by a local server runs with ``/cavern`` paths too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT, wait_for

from srcnet_tui.core.runs.ledger import Ledger, ledger_path

LIMITS = (2000, 3000)


def write_sites(test_env: dict[str, str], text: str) -> None:
    path = os.path.join(test_env["XDG_CONFIG_HOME"], "srcnet-tui", "config.toml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


@pytest.fixture
def primes(tmp_path):
    """The command example with two small tasks."""
    folder = shutil.copytree(ROOT / "examples" / "command", tmp_path / "command")
    config = folder / "primes.ini"
    config.write_text(
        config.read_text().replace("arguments = 20000 40000 60000 80000", f"arguments = {' '.join(map(str, LIMITS))}")
    )
    return config


def _launched_one(state_dir) -> bool:
    if not ledger_path(state_dir).exists():
        return False
    with Ledger(state_dir) as ledger:
        runs = ledger.runs()
        states = Counter(t.state for t in ledger.tasks(runs[0].id)) if runs else Counter()
    return states["launched"] >= 1


def test_a_run_on_site_b_resumes_and_collects_on_b_and_is_refused_at_a(
    primes, local_server_factory, state_dir, test_env, cli, tmp_path
):
    servers = {name: local_server_factory(tmp_path / f"server-{name}", cores=2, fault_latency_ms=150) for name in "ab"}
    write_sites(test_env, "".join(f'[sites.{name}]\nserver_dir = "{s.state_dir}"\n' for name, s in servers.items()))
    command = [sys.executable, "-m", "srcnet_tui.core.cli", "--site", "b", "parallel", str(primes), "--section", "primes"]
    proc = subprocess.Popen(
        command + ["--max-launching", "1"], cwd=tmp_path, env=test_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _launched_one(state_dir), timeout_s=60, interval_s=0.01, message="a task launched on site b")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    with Ledger(state_dir) as ledger:
        (run,) = ledger.runs()
    assert (run.site, run.backend) == ("b", "local")

    elsewhere = cli("--site", "a", "resume", run.id)
    assert elsewhere.returncode == 2
    assert elsewhere.stderr.strip().splitlines()[-1] == f"error: run {run.id} ran at site b, not a; resume it with --site b"

    resumed = cli("--site", "b", "resume", run.id, "--json", timeout=90)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["counts"]["completed"] == len(LIMITS)
    results = state_dir / "runs" / run.id
    assert all((results / f"primes-{limit}.txt").is_file() for limit in LIMITS)  # collected from b's storage
    assert (servers["b"].state_dir / "arc" / "home" / "demo" / "srcnet-examples").is_dir()
    with servers["b"].client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    assert set(names.values()) == {1} and len(names) == len(LIMITS)  # nothing launched twice
    with servers["a"].client() as http:
        assert http.get("session").json() == []  # site a never saw the run
    checked = cli("sites", "a", "b", "--json")
    assert [(row["site"], row["answers"], row["url"]) for row in json.loads(checked.stdout)] == [
        (name, True, servers[name].url) for name in "ab"
    ]


def test_a_cavern_site_takes_cavern_paths_and_refuses_arc_ones_unless_mapped(primes, local_server, test_env, cli):
    site = f'[sites.c]\nurl = "{local_server.url}"\ntoken = "{local_server.token}"\nstorage_root = "/cavern"\n'
    write_sites(test_env, site)
    refused = cli("--site", "c", "parallel", primes, "--section", "primes", "--dry-run")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: primes.ini [primes] vos_dir: '/arc/home/demo/srcnet-examples' is under /arc, which site c does not have "
        '(its storage is /cavern); write /cavern/... or map it: arc_maps_to = "/cavern/..." in [sites.c]'
    )

    write_sites(test_env, site + 'arc_maps_to = "/cavern/home/me"\n')
    mapped = cli("--site", "c", "parallel", primes, "--section", "primes", "--dry-run", "--json")
    assert mapped.returncode == 0, mapped.stderr
    assert "/cavern/home/me/home/demo/srcnet-examples" in mapped.stdout and "/arc/home" not in mapped.stdout

    write_sites(test_env, site)
    primes.write_text(primes.read_text().replace("vos_dir = /arc/home/demo", "vos_dir = /cavern/home/demo"))
    written = cli("--site", "c", "parallel", primes, "--section", "primes", "--dry-run", "--json")
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout)["output_dir"].startswith("/cavern/home/demo/srcnet-examples/")


def test_a_cavern_site_played_by_a_local_server_runs_with_cavern_paths(primes, local_server_factory, test_env, cli, tmp_path):
    server = local_server_factory(tmp_path / "server-c", cores=2)
    write_sites(test_env, f'[sites.c]\nserver_dir = "{server.state_dir}"\nstorage_root = "/cavern"\n')
    primes.write_text(primes.read_text().replace("vos_dir = /arc/home/demo", "vos_dir = /cavern/home/demo"))
    result = cli("--site", "c", "parallel", primes, "--section", "primes", "--json")
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["output_dir"].startswith("/cavern/home/demo/srcnet-examples/") and run["counts"]["completed"] == len(LIMITS)
    assert not os.path.exists("/cavern"), "the sessions wrote into the local server's storage, not this machine's /cavern"
