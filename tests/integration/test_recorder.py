"""The recorder runs a command without a shell, keeps its exit status and stops its whole tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from conftest import wait_for

from srcnet_tui.core.task import recorder

PY = sys.executable


def _csv_rows(log: Path) -> list[list[str]]:
    return [line.split(",") for line in log.read_text().splitlines()[1:]]


def test_exit_zero_writes_psrecord_columns_and_a_summary(tmp_path):
    log = tmp_path / "profile.csv"

    status = recorder.record([PY, "-c", "import time; time.sleep(0.3)"], log, interval=0.1)

    assert status == 0
    assert log.read_text().splitlines()[0] == (
        "elapsed_time,nproc,cpu,mem_real,mem_virtual,read_count,write_count,read_bytes,write_bytes"
    )
    rows = _csv_rows(log)
    assert len(rows) >= 3 and all(len(row) == 9 for row in rows)
    assert max(float(row[3]) for row in rows) > 1.0  # a Python interpreter's RSS, in MiB
    summary = json.loads(recorder.summary_path(log).read_text())
    assert summary["exit_code"] == 0 and summary["signal"] is None and summary["status"] == 0
    assert summary["command"][0] == PY
    assert 0.25 < summary["wall_s"] < 5
    assert summary["rusage"]["user_s"] >= 0 and summary["rusage"]["max_rss_mib"] > 1
    assert summary["start_utc"].endswith("Z") and summary["end_utc"] >= summary["start_utc"]
    assert summary["samples"] == len(rows)


def test_exit_status_three_comes_back_from_the_cli(cli, tmp_path):
    log = tmp_path / "three.csv"

    done = cli("record", "--log", log, "--interval", "0.1", "--", PY, "-c", "raise SystemExit(3)")

    assert done.returncode == 3, done.stderr
    assert json.loads(recorder.summary_path(log).read_text())["exit_code"] == 3


def test_killed_command_gives_128_plus_signal(tmp_path):
    log = tmp_path / "killed.csv"
    done = subprocess.run(
        [
            PY,
            "-m",
            "srcnet_tui.core.task.recorder",
            "--log",
            str(log),
            "--interval",
            "0.1",
            "--",
            PY,
            "-c",
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 128 + signal.SIGKILL
    summary = json.loads(recorder.summary_path(log).read_text())
    assert summary["signal"] == signal.SIGKILL and summary["exit_code"] is None


def test_command_not_found_is_127_with_one_line_and_a_summary(cli, tmp_path):
    log = tmp_path / "missing.csv"

    done = cli("record", "--log", log, "--", "no-such-command-srcnet")

    assert done.returncode == 127
    assert done.stderr.strip().splitlines() == ["record: command not found: no-such-command-srcnet"]
    assert json.loads(recorder.summary_path(log).read_text())["error"].startswith("command not found")


def test_arguments_reach_the_command_verbatim_without_a_shell(tmp_path):
    out = tmp_path / "argv.json"
    tricky = ["a b", "$HOME", "`id`", "it's", ";", "*"]
    code = "import json, sys; json.dump(sys.argv[1:], open(sys.argv[0] + '.json', 'w'))"
    script = tmp_path / "argv"
    script.write_text(code)

    assert recorder.record([PY, str(script), *tricky], tmp_path / "p.csv", interval=0.1) == 0
    assert json.loads(out.read_text()) == tricky


def test_bad_usage_is_exit_2_without_traceback(cli, tmp_path):
    no_command = cli("record", "--log", tmp_path / "x.csv")
    bad_interval = cli("record", "--log", tmp_path / "x.csv", "--interval", "0", "--", "true")
    bad_log = cli("record", "--log", tmp_path / "missing-dir" / "x.csv", "--", "true")

    for done in (no_command, bad_interval, bad_log):
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "x.csv" in bad_log.stderr


TREE = r"""
import os, signal, subprocess, sys, time
pids = open(sys.argv[1], "w")
def spawn(*args, **kw):
    p = subprocess.Popen(list(args), **kw)
    pids.write(f"{p.pid}\n"); pids.flush()
    return p
spawn("sleep", "60")
spawn(sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '61']); time.sleep(60)")
spawn(sys.executable, "-c", "import os, time; os.setsid(); time.sleep(62)")
spawn(sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(63)")
pids.write("ready\n"); pids.flush()
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.timeout(60)
def test_sigterm_to_the_recorder_leaves_no_process_of_the_tree(tmp_path):
    script, pid_file, log = tmp_path / "tree.py", tmp_path / "pids.txt", tmp_path / "tree.csv"
    script.write_text(TREE)
    rec = subprocess.Popen(
        [
            PY,
            "-m",
            "srcnet_tui.core.task.recorder",
            "--log",
            str(log),
            "--interval",
            "0.1",
            "--grace",
            "1",
            "--",
            PY,
            str(script),
            str(pid_file),
        ]
    )
    try:
        wait_for(lambda: pid_file.exists() and "ready" in pid_file.read_text(), 20, message="tree started")
        # every process, grandchildren included, as the recorder sees them
        tree = wait_for(
            lambda: (
                [p.pid for p in psutil.Process(rec.pid).children(recursive=True)]
                if len(psutil.Process(rec.pid).children(recursive=True)) >= 6
                else None
            ),
            20,
            message="six processes in the tree",
        )
        wait_for(lambda: any(int(row[1]) >= 6 for row in _csv_rows(log)), 20, message="a sample of the tree")

        rec.send_signal(signal.SIGTERM)
        assert rec.wait(30) == 128 + signal.SIGTERM
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
    survivors = [pid for pid in tree if _alive(pid)]
    assert survivors == []
    summary = json.loads(recorder.summary_path(log).read_text())
    assert summary["signal"] == signal.SIGTERM and summary["forwarded_signal"] == signal.SIGTERM


def test_processes_left_behind_by_the_command_are_stopped(tmp_path):
    pid_file = tmp_path / "bg.pid"
    code = (
        "import subprocess, sys; p = subprocess.Popen(['sleep', '60'], start_new_session=True); "
        "open(sys.argv[1], 'w').write(str(p.pid))"
    )

    status = recorder.record([PY, "-c", code, str(pid_file)], tmp_path / "bg.csv", interval=0.1, grace_s=1)

    assert status == 0
    assert not _alive(int(pid_file.read_text()))
    assert json.loads(recorder.summary_path(tmp_path / "bg.csv").read_text())["left_running"] == 1


def _cores(tmp_path: Path, proc_cgroup: str, files: dict[str, str], environ: dict) -> dict:
    """cores_given() against a fake /proc/self/cgroup and cgroup filesystem under tmp_path."""
    (tmp_path / "proc" / "self").mkdir(parents=True, exist_ok=True)
    (tmp_path / "proc" / "self" / "cgroup").write_text(proc_cgroup)
    for name, text in files.items():
        (tmp_path / "cg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cg" / name).write_text(text)
    return recorder.cores_given(str(tmp_path / "proc"), str(tmp_path / "cg"), environ)


def test_cores_come_from_cgroup_v2_quota_then_omp(tmp_path):
    v2 = "0::/kubepods/pod1\n"
    limited = {"kubepods/pod1/cpu.max": "200000 100000\n", "cpu.max": "max 100000\n"}
    found = _cores(tmp_path, v2, limited, {"OMP_NUM_THREADS": "4"})
    assert found["given"] == 2.0 and found["source"] == "cgroup" and found["omp_num_threads"] == 4

    found = _cores(tmp_path, v2, {"kubepods/pod1/cpu.max": "max 100000\n"}, {"OMP_NUM_THREADS": "4"})
    assert found["given"] == 4 and found["source"] == "OMP_NUM_THREADS"


def test_cores_come_from_cgroup_v1_cfs_quota(tmp_path):
    quota = {"cpu,cpuacct/job/cpu.cfs_quota_us": "800000\n", "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n"}
    found = _cores(tmp_path, "4:memory:/x\n3:cpu,cpuacct:/job\n", quota, {})
    assert found["given"] == 8.0 and found["cgroup_quota"] == 8.0


def test_psutil_sampler_sees_the_same_tree_as_proc(tmp_path):
    sleepers = [subprocess.Popen(["sleep", "30"]) for _ in range(3)]
    try:
        # A child still loading `sleep` grows its RSS between the two readings; compare settled ones.
        wait_for(
            lambda: all(psutil.Process(p.pid).status() == psutil.STATUS_SLEEPING for p in sleepers),
            message="the sleepers to settle",
        )
        via_proc = recorder.ProcTree(os.getpid()).sample()
        via_psutil = recorder.PsutilTree(os.getpid()).sample()
    finally:
        for p in sleepers:
            p.kill()
            p.wait()
    assert via_proc.nproc == via_psutil.nproc >= 3
    assert abs(via_proc.rss - via_psutil.rss) < 0.2 * via_psutil.rss


def test_an_ignored_hangup_stays_ignored_for_the_command(tmp_path):
    """Under nohup the workload must survive a hang-up, as it would without the recorder."""
    log = tmp_path / "nohup.csv"
    code = "import os, signal, time; os.kill(os.getppid(), signal.SIGHUP); time.sleep(0.3)"
    done = subprocess.run(
        ["nohup", PY, "-m", "srcnet_tui.core.task.recorder", "--log", str(log), "--interval", "0.1", "--", PY, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 0
    assert json.loads(recorder.summary_path(log).read_text())["forwarded_signal"] is None
