"""Issue 13's done-when: a task that allocates more than it asked for ends out of memory with a RAM
suggestion; ``retry --ram N`` reruns only it, it completes, and it has two attempts, every other task one."""

from __future__ import annotations

import json
import stat
import sys
from collections import Counter
from pathlib import Path

from runs_workspace import start_workspace

from srcnet_tui.core.runs.ledger import Ledger

ALLOCATING_FINDER = r"""#!{python}
import os, subprocess, sys, time
par = dict(
    (k.strip(), v.strip()) for k, _, v in
    (line.partition("=") for line in open(sys.argv[1]) if "=" in line and not line.startswith("#"))
)
held = b"x" * (int(par.get("test.allocate_mb", "0")) << 20)  # written, so resident
time.sleep(float(par.get("test.hold_s", "0")))
sys.exit(subprocess.call([os.path.join(os.path.dirname(os.path.abspath(__file__)), "sofia-standin"), *sys.argv[1:]]))
"""


def allocating_finder(bin_dir: Path) -> None:
    """Put a ``sofia`` on the sessions' PATH that first holds ``test.allocate_mb`` of memory, then runs the stand-in."""
    (bin_dir / "sofia").rename(bin_dir / "sofia-standin")
    wrapper = bin_dir / "sofia"
    wrapper.write_text(ALLOCATING_FINDER.format(python=sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)


def test_out_of_memory_then_retry_with_the_suggested_ram_completes(tmp_path, state_dir, test_env, local_server_factory, cli):
    config, server = start_workspace(
        tmp_path, state_dir, test_env, local_server_factory, small_tasks=True, thresholds=("3.5", "3.5", "3.5")
    )
    allocating_finder(tmp_path / "bin")
    greedy = config.parent / "parameter_files" / "sofia_02.par"
    greedy.write_text(greedy.read_text() + "test.allocate_mb = 1400\ntest.hold_s = 2\n")  # 1 GB requested

    first = cli("parallel", config, timeout=120)
    assert first.returncode == 1, first.stderr
    with Ledger(state_dir) as ledger:
        run_id = ledger.runs()[0].id
        task = ledger.task(run_id, 2)
        assert {t.index: t.state for t in ledger.tasks(run_id)} == {1: "completed", 2: "failed", 3: "completed"}
    assert task.cause == "oom" and task.message.startswith("out of memory"), task.message
    assert task.advice == "retry with --ram 2"
    assert f"retry them with: srcnet-tui --headless retry {run_id} --ram 2" in first.stderr

    retried = cli("retry", run_id, "--ram", "2", "--json", timeout=120)
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["counts"]["completed"] == 3
    [listed] = json.loads(cli("runs", "--json").stdout)
    assert (listed["tasks"], listed["attempts"]) == (3, 4)

    with server.client() as http:
        names = Counter(session["name"] for session in http.get("session").json())
    assert sorted(names.values()) == [1, 1, 1, 1] and f"{task.spec.name}-a2" in names
    with Ledger(state_dir) as ledger:
        attempts = ledger.attempts(run_id)
    assert Counter(a.index for a in attempts) == {1: 1, 2: 2, 3: 1}
    assert [(a.cause, a.ram_gb, a.wasted) for a in attempts if a.index == 2] == [("oom", 1, True), ("completed", 2, False)]
    manifest = json.loads((Path(json.loads(retried.stdout)["local_dir"]) / "run.json").read_text())
    assert {t["index"]: t["attempt"] for t in manifest["tasks"]} == {1: 1, 2: 2, 3: 1}
    [entry] = [t for t in manifest["tasks"] if t["index"] == 2]
    assert [(a["attempt"], a["cause"], a["ram_gb"], a["wasted"]) for a in entry["attempts"]] == [
        (1, "oom", 1, True),
        (2, "completed", 2, False),
    ]
    assert entry["attempts"][0]["advice"] == "retry with --ram 2" and entry["attempts"][0]["session_id"]
    assert [len(t["attempts"]) for t in manifest["tasks"]] == [1, 2, 1]
    detail = {t["index"]: t for t in json.loads(retried.stdout)["tasks_detail"]}
    assert detail[2]["attempts"] == entry["attempts"]  # --json and run.json: the same fields, by the same names

    rows = {row["run"]: row for row in manifest["usage"]["runs"]}
    assert set(rows) == {"task-001", "task-002", "task-002.a1", "task-003"}
    assert rows["task-002.a1"]["wasted"] and not rows["task-002"]["wasted"]
    assert manifest["usage"]["total"]["cpu_hours"] == round(sum(r["cpu_hours"] for r in rows.values()), 9)
    history = json.loads(cli("usage", "--run", run_id, "--json").stdout)
    assert [(t["task"], t["attempt"], t["wasted"]) for t in history["tasks"] if t["task"] == "task-002"] == [
        ("task-002", 1, True),
        ("task-002", 2, False),
    ]
    checked = cli("verify", run_id)  # checksums.json names the first attempt's copies where they were moved
    assert checked.returncode == 0, checked.stdout + checked.stderr
