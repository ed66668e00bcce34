"""Shared fixtures: a real ``serve-local`` per test, a CLI runner, and a guard against leftover processes.

* ``state_dir``            a fresh state folder for the test (also what ``cli`` uses via SRCNET_STATE_DIR).
* ``local_server``         a ``serve-local`` subprocess on a free loopback port: ``.url`` (…/skaha/v1),
                           ``.token``, ``.state_dir``, ``.client()`` (httpx with the bearer token),
                           ``.stop()``, ``.kill()`` (SIGKILL, for crash tests).
* ``local_server_factory`` ``factory(state_dir=None, **serve_local_options)`` — options are the
                           ``serve-local`` flags with ``_`` for ``-``: ``cores=2, ram_gb=8, ttl=1,
                           max_runtime=2, fault_503_rate=0.2, fault_drop_rate=0.05, fault_latency_ms=50,
                           fault_seed=1``; a True value is a bare flag. ``global_args=(...)`` go
                           before ``serve-local``; ``own_token=False`` lets the server pick its token.
* ``wait_for(condition, ...)``, ``wait_for_async(condition, pause, ...)`` (import them from conftest):
                           poll a condition with a deadline (never sleep as synchronisation).
* ``cli``                  ``cli(*args, env=None, input=None, timeout=60, cwd=None)`` runs
                           ``python -m srcnet_tui.core.cli ARGS`` -> CompletedProcess (text); HOME/XDG point into the
                           test's tmp folder, SRCNET_*/CANFAR_* are cleared, SRCNET_STATE_DIR=state_dir.

Teardown stops every server and daemon the test started, kills every session process left (found by
the ``SRCNET_ARC_ROOT`` marker they inherit), and fails the test if any still survives.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"  # copies of the shared fixtures: a fresh clone needs nothing beside it
START_TIMEOUT_S = 20.0


def _isolated_environ(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRCNET_", "CANFAR_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".local" / "state"))
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    """No test reads the developer's config, credentials or state (session-scoped: safe with hypothesis)."""
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_isolated_environ(home))
    yield home
    os.environ.clear()
    os.environ.update(saved)


def _poll_once(condition, deadline: float, timeout_s: float, message: str):
    """``condition()``'s value when truthy, None to poll again; fails the test once past ``deadline``."""
    value = condition()
    if value:
        return value
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {message}")
    return None


def wait_for(condition, timeout_s: float = 10.0, interval_s: float = 0.05, message: str = "condition"):
    """Poll ``condition()`` until it returns something truthy; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (value := _poll_once(condition, deadline, timeout_s, message)) is None:
        time.sleep(interval_s)
    return value


async def wait_for_async(condition, pause, timeout_s: float = 10.0, message: str = "condition"):
    """:func:`wait_for` inside an event loop: ``await pause()`` between polls (e.g. ``lambda: pilot.pause(0.05)``)."""
    deadline = time.monotonic() + timeout_s
    while (value := _poll_once(condition, deadline, timeout_s, message)) is None:
        await pause()
    return value


@dataclass
class LocalServer:
    url: str
    token: str
    state_dir: Path
    proc: subprocess.Popen
    log_path: Path
    options: dict = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The unversioned service root, …/skaha."""
        return self.url.rsplit("/v1", 1)[0]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/", headers=self.headers, timeout=kwargs.pop("timeout", 10.0), trust_env=False, **kwargs
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL, as a crash would: sessions keep running, state stays as it was on disk."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _server_args(state_dir: Path, token: str | None, options: dict, global_args=()) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "srcnet_tui.core.cli",
        "--state-dir",
        str(state_dir),
        *global_args,
        "serve-local",
        "--port",
        "0",
    ]
    if token is not None:
        args.append(f"--token={token}")
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value not in (None, False):
            args += [flag, str(value)]
    return args


def start_local_server(state_dir: Path, env: dict[str, str], *, global_args=(), own_token: bool = True, **options) -> LocalServer:
    """``global_args`` go before ``serve-local``; ``own_token=False`` lets the server choose its token."""
    token = (options.pop("token", None) or secrets.token_urlsafe(16)) if own_token else None
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir.parent / f"serve-local-{state_dir.name}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _server_args(state_dir, token, options, global_args),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    server_json = state_dir / "local" / "server.json"

    def answering():
        if proc.poll() is not None:
            raise AssertionError(f"serve-local exited with {proc.returncode}: {log_path.read_text(errors='replace')}")
        try:
            info = json.loads(server_json.read_text())
        except (OSError, ValueError):
            return None
        if info.get("pid") != proc.pid:
            return None
        try:
            ok = httpx.get(info["url"].rsplit("/v1", 1)[0] + "/availability", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return None
        return info["url"] if ok else None

    try:
        url = wait_for(answering, START_TIMEOUT_S, message="serve-local to answer")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise
    token = token or (state_dir / "local" / "token").read_text().strip()
    return LocalServer(url=url, token=token, state_dir=state_dir, proc=proc, log_path=log_path, options=options)


def session_processes(state_dir: Path) -> list[psutil.Process]:
    """Every live process started for a session of the local server using ``state_dir``."""
    marker = str(state_dir / "arc")
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            env = proc.environ()
        except psutil.Error:
            continue
        if env.get("SRCNET_ARC_ROOT") == marker and "skaha_sessionid" in env:
            found.append(proc)
    return found


def _kill_all(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


class _Cleanup:
    """Servers and state folders a test used; torn down in reverse."""

    def __init__(self):
        self.servers: list[LocalServer] = []
        self.state_dirs: set[Path] = set()

    def teardown(self) -> None:
        from srcnet_tui.core.local import daemon

        for server in reversed(self.servers):
            server.stop()
        for state in self.state_dirs:
            daemon.stop(state)
        leftovers = [p for state in self.state_dirs for p in session_processes(state)]
        _kill_all(leftovers)
        survivors = [p for state in self.state_dirs for p in session_processes(state)]
        assert not survivors, f"session processes survived teardown: {[p.pid for p in survivors]}"


@pytest.fixture
def _cleanup():
    cleanup = _Cleanup()
    yield cleanup
    cleanup.teardown()


@pytest.fixture
def state_dir(tmp_path, _cleanup) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    _cleanup.state_dirs.add(path)
    return path


@pytest.fixture
def test_env(tmp_path, state_dir) -> dict[str, str]:
    """Environment for subprocesses: isolated HOME/XDG in the test's tmp folder, local state folder."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = _isolated_environ(home)
    env["SRCNET_STATE_DIR"] = str(state_dir)
    return env


@pytest.fixture
def local_server_factory(state_dir, test_env, _cleanup):
    default_state = state_dir

    def factory(state_dir: Path | None = None, **options) -> LocalServer:
        target = Path(state_dir) if state_dir is not None else default_state
        _cleanup.state_dirs.add(target)
        server = start_local_server(target, test_env, **options)
        _cleanup.servers.append(server)
        return server

    return factory


@pytest.fixture
def local_server(local_server_factory) -> LocalServer:
    return local_server_factory()


@pytest.fixture
def cli(test_env, tmp_path):
    def run(
        *args, env: dict | None = None, input: str | None = None, timeout: float = 60, cwd=None
    ) -> subprocess.CompletedProcess:
        full_env = {**test_env, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "srcnet_tui.core.cli", *map(str, args)],
            cwd=cwd or tmp_path,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


SOFIA_BUILD_SCRIPT = ROOT.parent / "shared" / "tools" / "build-sofia.sh"


@pytest.fixture(scope="session")
def real_sofia(tmp_path_factory) -> Path:
    """The real SoFiA-2 binary, built once per session from ``../shared/tools`` into a tmp folder; skips without it."""
    if not SOFIA_BUILD_SCRIPT.is_file():
        pytest.skip(f"real SoFiA-2 not available: {SOFIA_BUILD_SCRIPT} is absent (nothing beside this checkout)")
    prefix = tmp_path_factory.mktemp("sofia")
    env = {**os.environ, "PATH": os.environ.get("PATH") or os.defpath}  # gcc finds cc1 through PATH
    build = subprocess.run(["bash", str(SOFIA_BUILD_SCRIPT), str(prefix)], env=env, capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        pytest.skip(f"real SoFiA-2 could not be built: {(build.stderr.strip().splitlines() or ['?'])[-1]}")
    return Path(build.stdout.strip().splitlines()[-1])
