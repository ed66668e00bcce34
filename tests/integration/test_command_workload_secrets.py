"""A secret reaches the session and nothing else: no file of srcnet-tui's own, no output of any command."""

from __future__ import annotations

import hashlib
import json
import os

SECRET = "pw-7f3a9c-do-not-publish"
SCRIPT = """import hashlib, os
open("digest.txt", "w").write(hashlib.sha256(os.environ["MONGO_PASSWORD"].encode()).hexdigest())
print("connected as", os.environ["MONGO_USER"])
"""
CONFIG = """[arrakis]
kind = command
vos_dir = /arc/projects/arrakis
image = images.canfar.net/srcnet/arrakis:1
command = python3 connect.py
inputs = connect.py
env = MONGO_USER=arrakis
env_preset = dask-stable
secret_env = MONGO_PASSWORD
secrets_file = secrets.env
cores = 1
ram = 1
interval = 0.2
"""


def _files_holding(root, text: str, skip) -> list[str]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if not skip(path) and text.encode() in open(path, "rb").read():
                found.append(path)
    return found


def test_the_secret_reaches_the_session_only(tmp_path, local_server_factory, cli, state_dir):
    local_server_factory(cores=2)
    work = tmp_path / "work"
    work.mkdir()
    (work / "connect.py").write_text(SCRIPT)
    (work / "secrets.env").write_text(f"MONGO_PASSWORD={SECRET}\n")
    (work / "secrets.env").chmod(0o600)
    (work / "config.ini").write_text(CONFIG)
    outputs = [cli("run", work / "config.ini", "--section", "arrakis", "--dry-run", *flag) for flag in ((), ("--json",))]
    ran = cli("run", work / "config.ini", "--section", "arrakis", "--json", timeout=90)
    assert ran.returncode == 0, ran.stderr
    outputs += [ran, cli("runs", "--json")]
    run_id = json.loads(ran.stdout)["id"]
    results = state_dir / "runs" / run_id
    assert (results / "digest.txt").read_text() == hashlib.sha256(SECRET.encode()).hexdigest()  # the session had it
    assert json.loads((results / "run.json").read_text())["tasks"][0]["outputs"]  # the run was recorded
    for proc in outputs:
        assert SECRET not in proc.stdout and SECRET not in proc.stderr
    server_store = str(state_dir / "local")  # plays the platform, which holds a session's env to start it (0700)
    assert _files_holding(state_dir, SECRET, skip=lambda path: path.startswith(server_store)) == []
    assert _files_holding(work, SECRET, skip=lambda path: path == str(work / "secrets.env")) == []
    assert os.stat(server_store).st_mode & 0o077 == 0
