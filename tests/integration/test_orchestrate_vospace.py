"""A whole run whose storage is VOSpace, faked only at the vos.Client boundary.

The fake keeps its nodes as files in the folder the local server's sessions see as /arc, so the
sessions (real processes of a real serve-local) and the VOSpace storage layer share the same
bytes, as they do on CANFAR. Transfers fail transiently now and then, as vcp does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cadcutils import exceptions as cadc
from runs_workspace import start_workspace

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.runs.cleaning import clean_run, run_products
from srcnet_tui.core.runs.config import load_run_config
from srcnet_tui.core.runs.ledger import Ledger
from srcnet_tui.core.runs.orchestrate import start_run
from srcnet_tui.core.runs.storage import VOSpace
from srcnet_tui.core.runs.verifying import verify_run
from srcnet_tui.core.settings import Settings


class _Node:
    def __init__(self, path: Path):
        self._path = path
        self.props = {}
        if path.is_file():
            data = path.read_bytes()
            self.props = {"length": str(len(data)), "MD5": hashlib.md5(data).hexdigest()}

    def isdir(self):
        return self._path.is_dir()


class FolderVosClient:
    """vos.Client's get_node, copy, mkdir, listdir and open over a folder; every 3rd copy fails once."""

    def __init__(self, root: Path):
        self.root = root
        self.copies = 0
        self.failures = 0

    def _path(self, uri: str) -> Path:
        assert uri.startswith("arc:"), uri
        return self.root / uri[len("arc:") :]

    def get_node(self, uri, limit=0, force=False):
        path = self._path(uri)
        if not path.exists():
            raise cadc.NotFoundException(uri)
        return _Node(path)

    def mkdir(self, uri):
        path = self._path(uri)
        if path.exists():
            raise cadc.AlreadyExistsException(uri)
        if not path.parent.is_dir():
            raise cadc.NotFoundException(str(path.parent))
        path.mkdir()

    def listdir(self, uri, force=False):
        return [p.name for p in self._path(uri).iterdir()]

    def open(self, uri, view=None):
        return self._path(uri).open("rb")

    def delete(self, uri):
        path = self._path(uri)
        path.rmdir() if path.is_dir() else path.unlink()

    def copy(self, source, destination, send_md5=False, disposition=False, head=None):
        self.copies += 1
        if self.copies % 3 == 0:
            self.failures += 1
            raise cadc.TransferException("Connection reset by peer")
        if destination.startswith("arc:"):
            shutil.copyfile(source, self._path(destination))
            target = self._path(destination)
        else:
            shutil.copyfile(self._path(source), destination)
            target = Path(destination)
        return hashlib.md5(target.read_bytes()).hexdigest()


@pytest.fixture
def workspace(tmp_path, state_dir, test_env, local_server_factory):
    (state_dir / "arc" / "projects").mkdir(parents=True, exist_ok=True)
    return start_workspace(tmp_path, state_dir, test_env, local_server_factory)


async def test_parallel_run_stages_and_collects_through_vospace(workspace, state_dir):
    config_path, _ = workspace
    fake = FolderVosClient(state_dir / "arc")
    storage = VOSpace(fake, retry=Backoff(first_s=0.0, attempts=4))
    settings = Settings("local", None, None, None, state_dir, "test")
    config = load_run_config(config_path, kind="parallel")

    result = await start_run(settings, config, storage=storage)

    assert result.exit_code == 0
    assert [t.state for t in result.tasks] == ["completed", "completed", "no-sources"]
    assert fake.failures >= 3, "transient transfer failures were retried"
    names = {p.name for p in result.local_dir.iterdir()}
    assert {"sofia_profile_001.txt", "sofia_profile_001.txt.summary.json", f"{result.run.id}_001_cat.txt", "run.json"} <= names
    remote_manifest = state_dir / "arc" / result.run.remote_dir.removeprefix("/arc/") / "run.json"
    assert json.loads(remote_manifest.read_text())["tasks"][2]["exit_code"] == 8
    assert result.usage["total"]["cpu_hours"] >= 0

    run_dir = state_dir / "arc" / result.run.remote_dir.removeprefix("/arc/")
    (run_dir / "task-001" / f"{result.run.id}_001_mask.fits").write_bytes(b"m" * 100)
    with Ledger(state_dir) as ledger:
        run = ledger.run(result.run.id)
    assert verify_run(storage, run).mismatches == []
    products = run_products(storage, run)
    assert [p.relative for p in products if p.action == "remove"] == [f"task-001/{result.run.id}_001_mask.fits"]
    removed = clean_run(storage, run, products)
    assert [r["md5"] for r in removed] == [hashlib.md5(b"m" * 100).hexdigest()]
    assert not (run_dir / "task-001" / f"{result.run.id}_001_mask.fits").exists()


def test_a_split_plan_reads_the_cube_header_through_vospace(tmp_path, state_dir):
    from runs_workspace import seed_workspace

    from srcnet_tui.core.runs.preflight import make_plan

    config_path = seed_workspace(tmp_path / "work", state_dir)
    text = config_path.read_text().replace(
        "[sofia-parallel]\n", "[sofia-parallel]\nsplit = 2,2,1\noverlap = 4\nparameter_file = sofia.par\n"
    )
    config_path.write_text(text)
    storage = VOSpace(FolderVosClient(state_dir / "arc"), retry=Backoff(attempts=1))
    plan = make_plan(load_run_config(config_path, kind="parallel"), "r1", storage)
    assert plan.cube.shape == (24, 24, 8) and len(plan.tasks) == 4
