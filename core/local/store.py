"""The local server's state folder: where each session's record, log and exit status live on disk.

Files are replaced atomically (temp file + fsync + ``os.replace``), so a ``kill -9`` of the server
at any moment leaves either the old or the new version of a file, never half of one; session
records are appended to a journal instead (srcnet_tui.core.local.journal). Layout under ``<state_dir>/local/``::

    token                   bearer token (0600) when none was given on the command line
    server.json             pid/host/port/version of the running daemon (see srcnet_tui.core.local.daemon)
    records.jsonl           snapshot of the session records (srcnet_tui.core.local.journal)
    journal.jsonl           changes to them since the snapshot (srcnet_tui.core.local.journal)
    meta/<id>/session.json  a session record as versions before the journal kept it (read once, then removed)
    meta/<id>/output.log    stdout+stderr of the session (written by srcnet_tui.core.local.shim)
    meta/<id>/exit.json     how the session's command ended (written by srcnet_tui.core.local.shim)
    meta/<id>/shim.json     pid and start time of the shim (written by srcnet_tui.core.local.shim)
    meta/<id>/lock          held (flock) by the shim for as long as it lives
    sessions/<id>/          the session's working directory
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from srcnet_tui.core.errors import UsageError

RECORD = "session.json"
LOG = "output.log"
EXIT = "exit.json"
SHIM = "shim.json"
LOCK = "lock"


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj, mode: int = 0o644) -> None:
    write_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(), mode)


def read_json(path: Path):
    """Read a JSON file; None when it does not exist; UsageError naming the file when it is corrupt."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable local-server state ({exc.__class__.__name__}: {exc})") from None


class Store:
    """Paths and atomic reads/writes of the local server's state folder."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.root = self.state_dir / "local"
        self.meta_root = self.root / "meta"
        self.sessions_root = self.root / "sessions"
        self.arc_root = self.state_dir / "arc"

    def prepare(self) -> None:
        """Create the folders, failing with one clear line when the state folder is unusable."""
        for folder in (self.root, self.meta_root, self.sessions_root, self.arc_root):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"{folder}: cannot create local-server state folder ({exc.strerror})") from None
            if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                raise UsageError(f"{folder}: local-server state folder is not readable and writable")
        os.chmod(self.root, 0o700)  # holds the token and every session's output

    # --- per-session paths -------------------------------------------------------------------
    def meta_dir(self, session_id: str) -> Path:
        return self.meta_root / session_id

    def workdir(self, session_id: str) -> Path:
        return self.sessions_root / session_id

    def log_path(self, session_id: str) -> Path:
        return self.meta_dir(session_id) / LOG

    def exit_path(self, session_id: str) -> Path:
        return self.meta_dir(session_id) / EXIT

    def shim_path(self, session_id: str) -> Path:
        return self.meta_dir(session_id) / SHIM

    def lock_path(self, session_id: str) -> Path:
        return self.meta_dir(session_id) / LOCK

    # --- records -----------------------------------------------------------------------------
    @staticmethod
    def encode(record: dict) -> bytes:
        # Compact on purpose: only without indent does json use its C encoder (this is per request).
        return (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()

    def _meta_folders(self) -> list[Path]:
        return [f for f in sorted(self.meta_root.iterdir()) if not f.name.startswith(".") and f.is_dir()]

    def per_session_records(self) -> dict[str, dict]:
        """Records in ``meta/<id>/session.json``, where versions before the journal kept them."""
        records = {}
        for folder in self._meta_folders():
            record = read_json(folder / RECORD)
            if record is None:
                continue
            if not isinstance(record, dict) or record.get("id") != folder.name:
                raise UsageError(f"{folder / RECORD}: unreadable local-server state (not a session record)")
            records[folder.name] = record
        return records

    def exit_status(self, session_id: str) -> dict | None:
        try:
            return read_json(self.exit_path(session_id))
        except UsageError:
            return None

    def shim_info(self, session_id: str) -> dict | None:
        try:
            return read_json(self.shim_path(session_id))
        except UsageError:
            return None

    def read_log(self, session_id: str) -> bytes:
        try:
            return self.log_path(session_id).read_bytes()
        except FileNotFoundError:
            return b""

    def clear_attempt(self, session_id: str) -> None:
        """Remove what a session's ended processes left (log, exit status, shim info, lock), so that
        it starts again from the beginning, as a preempted container does."""
        for path in (
            self.exit_path(session_id),
            self.shim_path(session_id),
            self.log_path(session_id),
            self.lock_path(session_id),
        ):
            path.unlink(missing_ok=True)

    def remove_folders(self, session_id: str) -> None:
        """Remove a forgotten session's files (its forget is already durable: whatever a crash
        leaves behind is swept at the next start)."""
        shutil.rmtree(self.meta_dir(session_id), ignore_errors=True)
        shutil.rmtree(self.workdir(session_id), ignore_errors=True)

    def drop_per_session_records(self) -> None:
        """Remove the per-session record files once the journal holds their records."""
        for folder in self._meta_folders():
            (folder / RECORD).unlink(missing_ok=True)

    def sweep_orphans(self, known: set[str]) -> None:
        """Remove the folders of sessions without a record (forgotten, or a create never acknowledged)."""
        for root in (self.meta_root, self.sessions_root):
            for folder in root.iterdir():
                if folder.name not in known and not folder.name.startswith("."):
                    shutil.rmtree(folder, ignore_errors=True)

    # --- the clients' PATH -------------------------------------------------------------------
    def client_path_file(self) -> Path:
        """The PATH of the latest client that used this server: sessions search it first."""
        return self.root / "client-path"

    def remember_client_path(self, path: str) -> None:
        """Keep ``path`` for the sessions started from now on (written only when it changed)."""
        if path and self.read_client_path() != path:
            write_atomic(self.client_path_file(), path.encode(), mode=0o600)

    def read_client_path(self) -> str:
        """The remembered client PATH ("" when no client has said)."""
        try:
            return self.client_path_file().read_text()
        except OSError:
            return ""

    # --- token -------------------------------------------------------------------------------
    def token_path(self) -> Path:
        return self.root / "token"

    def load_or_create_token(self, given: str | None) -> str:
        """The server's bearer token: the one given (remembered for clients), else the stored one, else new."""
        path = self.token_path()
        if given:
            write_atomic(path, given.encode(), mode=0o600)
            return given
        if path.exists():
            try:
                token = path.read_text().strip()
            except OSError as exc:
                raise UsageError(f"{path}: cannot read token ({exc.strerror})") from None
            if token:
                os.chmod(path, 0o600)
                return token
        token = secrets.token_urlsafe(32)
        write_atomic(path, token.encode(), mode=0o600)
        return token
