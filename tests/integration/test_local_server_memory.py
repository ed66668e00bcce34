"""serve-local enforces requested RAM as Kubernetes enforces a memory limit: over it, the session is OOMKilled and Failed."""

from __future__ import annotations

import json

from conftest import wait_for
from test_local_server import create, wait_status
from test_local_server_lifecycle import processes_of, workdir

# 1 GiB is the smallest RAM a session can request (1.07 GB): the hog goes over it, the modest one stays under.
HOG = "import\ttime\nblob=b'x'*1_300_000_000\nprint('allocated',flush=True)\ntime.sleep(60)"
MODEST = "-c blob=b'x'*300_000_000;print('allocated')"


def test_a_session_over_its_requested_ram_is_oom_killed_and_one_under_it_completes(local_server_factory):
    server = local_server_factory(cores=2, ram_gb=8)
    recorded_hog = f"-m srcnet_tui.core.task.recorder --log hog.csv --interval 0.2 -- python -c {HOG}"
    with server.client() as c:
        hog = create(c, "hog", args=recorded_hog, cores="1", ram="1").strip()
        modest = create(c, "modest", args=MODEST, cores="1", ram="1").strip()
        wait_status(c, hog, "Failed", timeout_s=20)
        wait_status(c, modest, "Completed", timeout_s=20)
        assert c.get(f"session/{modest}", params={"view": "logs"}).text == "allocated\n"
        last = c.get(f"session/{hog}", params={"view": "events"}).text.splitlines()[-1].split(None, 2)
        assert last[:2] == ["Warning", "OOMKilled"] and "Container main was OOMKilled" in last[2]
        assert "over its memory limit of 1.07 GB" in last[2]
        wait_for(lambda: not processes_of(server.state_dir, hog), 10, message="the OOMKilled session's processes to end")
    # As the kernel's OOM killer does, the largest process was killed: the recorder above it says so.
    summary = json.loads((workdir(server, hog) / "hog.csv.summary.json").read_text())
    assert (summary["signal"], summary["status"], summary["forwarded_signal"]) == (9, 137, None)
