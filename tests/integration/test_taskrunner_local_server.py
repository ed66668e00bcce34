"""A planned task as the platform runs it: cmd + args through the Skaha API of a real serve-local.

This is the contract between the plan and the sessions: Skaha's form-encoded ``args`` (split on
single spaces), the local server's /arc (``SRCNET_ARC_ROOT``) and PATH, the recorder's outputs, and
the session's final status — SoFiA-2's "no sources" must end Completed, a real error Failed.
"""

import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import wait_for

from srcnet_tui.core.runs.config import load_run_config
from srcnet_tui.core.runs.plan import plan_run
from srcnet_tui.core.skaha import SyncSkaha

FAKE_SOFIA = """#!{python}
import os, sys
settings = dict(l.split("=", 1) for l in open(sys.argv[1]).read().split())
overrides = dict(a.split("=", 1) for a in sys.argv[2:])
print("Pipeline started", flush=True)
code = int(settings.get("fake.exit", "0"))
if code == 0:
    open(os.path.join(overrides["output.directory"], overrides["output.filename"] + "_cat.xml"), "w").write("<VOTABLE/>")
    print("Pipeline finished.", flush=True)
sys.exit(code)
"""


def stage(plan, arc_root: Path) -> None:
    """What the storage layer does on the local backend: put each upload under the folder that plays /arc."""
    for upload in plan.uploads:
        target = arc_root / upload.remote.removeprefix("/arc/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(upload.local, target)


def wait_until_finished(client, session_id: str, timeout_s: float = 60.0):
    def finished():
        session = client.get(session_id)
        return session if session.is_terminal else None

    return wait_for(finished, timeout_s, 0.1, message=f"session {session_id} to finish")


@pytest.fixture
def project(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sofia").write_text(FAKE_SOFIA.format(python=sys.executable))
    (bin_dir / "sofia").chmod(0o755)
    params = tmp_path / "parameter_files"
    params.mkdir()
    for name, text in (("a_ok.par", "fake.exit=0"), ("b_empty.par", "fake.exit=8"), ("c_broken.par", "fake.exit=5")):
        (params / name).write_text(text)
    (tmp_path / "cube.fits").write_bytes(b"SIMPLE  =                    T")
    (tmp_path / "config.ini").write_text(
        "[sofia-parallel]\nvos_dir = /arc/projects/demo/parallel\nimage_file = cube.fits\n"
        "parameter_file_dir = parameter_files\nlogs_dir = logs\ncores = 1\nram = 1\ninterval = 0.2\n"
    )
    return tmp_path


def test_planned_tasks_run_on_the_local_server(local_server, project):
    arc_root = local_server.state_dir / "arc"
    with SyncSkaha(local_server.url, token=local_server.token) as client:
        plan = plan_run(load_run_config(project / "config.ini", kind="parallel"), "demo-1", context=client.context())
        stage(plan, arc_root)
        path = f"{project / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
        ids = {}
        for task in plan.tasks:
            request = task.launch_spec()
            [ids[task.index]] = client.create(replace(request, env={**request.env, "PATH": path}))
        finished = {index: wait_until_finished(client, sid) for index, sid in ids.items()}
        logs = {index: client.logs(sid) for index, sid in ids.items()}
    assert {i: s.status for i, s in finished.items()} == {1: "Completed", 2: "Completed", 3: "Failed"}
    assert "Pipeline finished." in logs[1]
    for task in plan.tasks:
        folder = arc_root / task.outputs.directory.removeprefix("/arc/")
        assert (folder / task.outputs.profile_log).exists()
        assert (folder / task.outputs.summary).exists()
        assert "Pipeline started" in (folder / task.outputs.finder_log).read_text()
    first = plan.tasks[0]
    assert (arc_root / first.outputs.directory.removeprefix("/arc/") / first.outputs.catalogues[0]).exists()
