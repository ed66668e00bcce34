"""Where a run's inputs and outputs live: VOSpace for CANFAR, a local folder that plays /arc locally.

A path written as ``/arc/...`` in a config names the same file on both backends: on CANFAR it is the
VOSpace node ``arc:...``; on the local backend it is ``<state_dir>/arc/...`` (the folder the local
server hands its sessions as ``SRCNET_ARC_ROOT``). Both implementations share one behaviour, kept in
:class:`Storage`: uploads skip a file whose size and MD5 already match and are verified after the
transfer; downloads land in a temporary file that is renamed into place only once verified;
``mkdir_p`` tolerates folders that exist; transient failures are retried with a bounded back-off and
end, if they persist, in :class:`srcnet_tui.core.errors.Unreachable` naming the path. ``walk`` lists a
folder's files with their sizes (no checksum is read) and ``remove`` deletes one, for ``clean`` and ``keep``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import BinaryIO, TypeVar

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import AuthError, NotFound, SrcnetError, Unreachable, UsageError
from srcnet_tui.core.sites import CAVERN, split_storage_path

T = TypeVar("T")

REMOTE_PREFIXES = ("arc:", "vos:", "vault:")
STORAGE_RETRIES = Backoff(first_s=1.0, factor=2.0, cap_s=16.0, attempts=6)
"""Transient storage failures are tried six times, 1 s to 16 s apart (about half a minute in all)."""


def is_remote(path: str) -> bool:
    """True for paths that name storage (``/arc/...``, ``/cavern/...``, ``arc:...``, ``vos:...``), not this machine."""
    path = str(path)
    return split_storage_path(path)[0] is not None or path.startswith(REMOTE_PREFIXES)


def to_uri(path: str, cavern_uri: str | None = None) -> str:
    """``/arc/x`` -> ``arc:x`` (only the leading prefix); ``/cavern/x`` -> ``cavern_uri`` + ``/x`` (the site's
    VOSpace for its /cavern, ``vospace`` of its ``[sites.NAME]``); ``arc:``/``vos:`` URIs are returned unchanged."""
    path = str(path)
    if path.startswith(REMOTE_PREFIXES):
        return path
    root, rest = split_storage_path(path)
    if root == "/arc":
        return "arc:" + rest.lstrip("/")
    if root == "/cavern":
        if not cavern_uri:
            raise UsageError(
                f'{path}: this site\'s VOSpace for /cavern is not known; set vospace = "vos://..." in its [sites.NAME]'
            )
        return cavern_uri.rstrip("/") + rest
    raise UsageError(f"{path}: not a storage path (expected /arc/..., /cavern/..., arc:... or vos:...)")


def join(base: str, *names: str) -> str:
    """Join storage path components with '/', whatever the scheme."""
    out = str(base).rstrip("/")
    for name in names:
        out = f"{out}/{str(name).strip('/')}"
    return out


MD5_CACHE_MIN_BYTES = 64 << 20


@dataclass(frozen=True)
class Digests:
    """A file's size, MD5 (what VOSpace reports) and SHA-256 (checked locally), hex."""

    size: int
    md5: str
    sha256: str


def file_digests(path: Path) -> Digests:
    """Size, MD5 and SHA-256 of a file, read once. A large one (a cube) is remembered while its size,
    inode and modification time stay the same, so it is not read again for every comparison; small
    files, which can be rewritten within one timestamp tick, are always read."""
    info = os.stat(path)
    if info.st_size < MD5_CACHE_MIN_BYTES:
        return _read_digests(path)
    return _remembered_digests(os.path.realpath(path), info.st_size, info.st_ino, info.st_mtime_ns)


def file_md5(path: Path) -> str:
    """MD5 (hex) of a file (see :func:`file_digests`)."""
    return file_digests(path).md5


@lru_cache(maxsize=256)
def _remembered_digests(path: str, size: int, inode: int, mtime_ns: int) -> Digests:
    return _read_digests(path)


def _read_digests(path) -> Digests:
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
            size += len(block)
    return Digests(size, md5.hexdigest(), sha256.hexdigest())


@dataclass(frozen=True)
class RemoteFile:
    """What storage says about a file: its size and, when it knows it, its MD5 (hex)."""

    size: int
    md5: str | None


@dataclass(frozen=True)
class Transfer:
    """The outcome of one upload or download."""

    path: str
    size: int
    md5: str
    skipped: bool


@dataclass(frozen=True)
class StoredFile:
    """A file found by :meth:`Storage.walk`: its path relative to the folder walked, and its size."""

    relative: str
    size: int


class TransientError(Exception):
    """A failure worth retrying (network hiccup, verification mismatch after a transfer)."""


class Storage:
    """Shared behaviour on top of a few primitives each backend implements."""

    name = "storage"

    def __init__(
        self,
        retry: Backoff = STORAGE_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        site_path: Callable[[str], str] | None = None,
    ):
        self._retry = retry
        self._sleep = sleep
        self._site_path = site_path

    def on_site(self, path: str) -> str:
        """``path`` where this storage's site has it (``/arc/...`` mapped or refused on a ``/cavern`` site)."""
        return self._site_path(path) if self._site_path else path

    # -- primitives a backend implements -------------------------------------------------------
    def _stat(self, path: str) -> RemoteFile | None:
        """Size and MD5 of a file, or None if nothing is there."""
        raise NotImplementedError

    def _is_dir(self, path: str) -> bool:
        raise NotImplementedError

    def _is_file(self, path: str) -> bool:
        """Whether a file is there; backends that can tell without a checksum override this."""
        return self._stat(path) is not None

    def _listdir(self, path: str) -> list[str]:
        raise NotImplementedError

    def _make_dir(self, path: str) -> None:
        """Create one folder whose parent exists; may raise if it exists already."""
        raise NotImplementedError

    def _put(self, local: Path, path: str) -> None:
        raise NotImplementedError

    def _get(self, path: str, local: Path) -> None:
        raise NotImplementedError

    def _walk(self, path: str) -> list[StoredFile]:
        """Every file under a folder with its size (relative paths), without reading a checksum."""
        raise NotImplementedError

    def _delete(self, path: str) -> None:
        """Remove one file, or one empty folder."""
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> BaseException | None:
        """Map a backend exception to TransientError (retry), a SrcnetError (stop), or None (re-raise)."""
        if isinstance(exc, (TransientError, TimeoutError)):
            return TransientError(str(exc))
        if isinstance(exc, OSError) and exc.errno == errno.EFAULT:
            return TransientError(str(exc))
        return None

    # -- shared behaviour ----------------------------------------------------------------------
    def describe(self, path: str) -> str:
        """How a path is shown to the user (the URI or the local file)."""
        return str(path)

    def stat(self, path: str) -> RemoteFile | None:
        """Size and MD5 of a file, or None if nothing (or a folder) is there."""
        return self._retrying(f"check {self.describe(path)}", lambda: self._stat(path))

    def is_dir(self, path: str) -> bool:
        return self._retrying(f"check {self.describe(path)}", lambda: self._is_dir(path))

    def is_file(self, path: str) -> bool:
        return self._retrying(f"check {self.describe(path)}", lambda: self._is_file(path))

    def listdir(self, path: str) -> list[str]:
        """Names in a folder, sorted; empty if the folder does not exist."""
        return sorted(self._retrying(f"list {self.describe(path)}", lambda: self._listdir(path)))

    def exists(self, path: str) -> bool:
        return self.is_dir(path) or self.stat(path) is not None

    def walk(self, path: str) -> list[StoredFile]:
        """Every file under a folder (sub-folders included) with its size, sorted; empty if it does not exist."""
        found = self._retrying(f"list {self.describe(path)}", lambda: self._walk(path))
        return sorted(found, key=lambda f: f.relative)

    def remove(self, path: str) -> None:
        """Delete a file (or an empty folder); one that is gone already is fine."""
        if self.is_dir(path) or self.is_file(path):
            self._retrying(f"remove {self.describe(path)}", lambda: self._delete(path))

    def sha256(self, path: str) -> str | None:
        """SHA-256 of a stored file when this storage can read it cheaply (on this machine), else None."""
        return None

    def open_read(self, path: str) -> BinaryIO:
        """A binary stream of a file's bytes from the start (e.g. to read a FITS header)."""
        return self._retrying(f"open {self.describe(path)}", lambda: self._open(path))

    def _open(self, path: str) -> BinaryIO:
        raise NotImplementedError

    def mkdir_p(self, path: str) -> None:
        """Create a folder and its missing parents; folders that exist are fine."""
        missing = []
        current = str(path).rstrip("/")
        while not self.is_dir(current):
            missing.append(current)
            parent, slash, _ = current.rpartition("/")
            if not slash or not parent or parent.endswith(":"):
                break
            current = parent
        for folder in reversed(missing):
            self._retrying(f"create {self.describe(folder)}", partial(self._make_dir_tolerant, folder))

    def _make_dir_tolerant(self, path: str) -> None:
        try:
            self._make_dir(path)
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        except Exception as exc:  # backend-specific "already exists"
            if not self._already_exists(exc):
                raise

    def _already_exists(self, exc: BaseException) -> bool:
        return False

    def upload(self, local: Path, path: str) -> Transfer:
        """Copy a local file to storage unless an identical copy is there; verify what was sent."""
        local = Path(local)
        if not local.is_file():
            raise NotFound(f"{local}: no such file to upload")
        size, md5 = local.stat().st_size, file_md5(local)
        if self._matches(path, size, md5, md5_required=True):
            return Transfer(path, size, md5, skipped=True)

        def send_and_verify():
            self._put(local, path)
            if not self._matches(path, size, md5, md5_required=False):
                raise TransientError(f"{self.describe(path)}: size or MD5 differ after upload")

        self._retrying(f"upload {local} to {self.describe(path)}", send_and_verify)
        return Transfer(path, size, md5, skipped=False)

    def _matches(self, path: str, size: int, md5: str, md5_required: bool) -> bool:
        """Same size and MD5; a node without an MD5 (storage may not have computed it yet) is not
        proof enough to skip an upload, but does not fail the check after one."""
        found = self.stat(path)
        if found is None or found.size != size:
            return False
        return found.md5 == md5 if (md5_required or found.md5) else True

    def download(self, path: str, local: Path) -> Transfer:
        """Fetch a file atomically (temporary file, verified, then renamed into place)."""
        local = Path(local)
        expected = self.stat(path)
        if expected is None:
            raise NotFound(f"{self.describe(path)}: no such file")
        if local.is_file() and local.stat().st_size == expected.size and expected.md5 == file_md5(local):
            return Transfer(path, expected.size, expected.md5, skipped=True)
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(f".{local.name}.part-{os.getpid()}")

        def fetch_and_verify():
            self._get(path, partial)
            got_md5 = file_md5(partial)
            if partial.stat().st_size != expected.size or (expected.md5 and expected.md5 != got_md5):
                raise TransientError(f"{self.describe(path)}: size or MD5 differ after download")
            return got_md5

        try:
            md5 = self._retrying(f"download {self.describe(path)}", fetch_and_verify)
            os.replace(partial, local)
        finally:
            partial.unlink(missing_ok=True)
        return Transfer(path, expected.size, md5, skipped=False)

    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action``; retry transient failures with back-off; one clear error when giving up."""
        schedule = self._retry.start()
        while True:
            try:
                return action()
            except SrcnetError:
                raise
            except Exception as exc:
                mapped = self._classify(exc)
                if mapped is None:
                    raise
                if not isinstance(mapped, TransientError):
                    raise mapped from None
                pause = schedule.next_pause()
                if pause is None:
                    raise Unreachable(f"{what}: still failing after {schedule.tries} attempts: {exc}") from None
                self._sleep(pause)


class VOSpace(Storage):
    """VOSpace through ``vos.Client`` (cavern ``arc:`` or vault ``vos:``)."""

    name = "vospace"

    def __init__(
        self, client=None, *, cert: Path | None = None, token: str | None = None, cavern_uri: str | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self._given_client = client
        self._credential = (cert, token)
        self._cavern_uri = cavern_uri

    def _uri(self, path: str) -> str:
        return to_uri(path, self._cavern_uri)

    @cached_property
    def _client(self):
        """``vos.Client`` is built on first use: building it checks PyPI and reads the registry."""
        return self._given_client if self._given_client is not None else _vos_client(*self._credential)

    def describe(self, path: str) -> str:
        return self._uri(path)

    def _node(self, path: str):
        from cadcutils import exceptions as cadc

        try:
            return self._client.get_node(self._uri(path), limit=0, force=True)
        except cadc.NotFoundException:
            return None
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def _stat(self, path: str) -> RemoteFile | None:
        node = self._node(path)
        if node is None or node.isdir():
            return None
        length = node.props.get("length")
        return RemoteFile(int(length or 0), node.props.get("MD5") or None)

    def _is_dir(self, path: str) -> bool:
        node = self._node(path)
        return node is not None and node.isdir()

    def _listdir(self, path: str) -> list[str]:
        return self._client.listdir(self._uri(path), force=True) if self._is_dir(path) else []

    def _make_dir(self, path: str) -> None:
        self._client.mkdir(self._uri(path))

    def _put(self, local: Path, path: str) -> None:
        self._client.copy(str(local), self._uri(path), send_md5=True)

    def _get(self, path: str, local: Path) -> None:
        self._client.copy(self._uri(path), str(local), send_md5=True)

    def _open(self, path: str) -> BinaryIO:
        return self._client.open(self._uri(path), view="data")

    def _delete(self, path: str) -> None:
        self._client.delete(self._uri(path))

    def _walk(self, path: str) -> list[StoredFile]:
        """One node request per entry (its type and length together)."""
        found = []
        for name in self._listdir(path):
            node = self._node(join(path, name))
            if node is not None and node.isdir():
                found += [StoredFile(f"{name}/{f.relative}", f.size) for f in self._walk(join(path, name))]
            elif node is not None:
                found.append(StoredFile(name, int(node.props.get("length") or 0)))
        return found

    def _already_exists(self, exc: BaseException) -> bool:
        from cadcutils import exceptions as cadc

        return isinstance(exc, cadc.AlreadyExistsException)

    def _classify(self, exc: BaseException) -> BaseException | None:
        from cadcutils import exceptions as cadc

        if isinstance(exc, (cadc.UnauthorizedException, cadc.ForbiddenException)):
            return AuthError(f"VOSpace refused access: {exc} (renew the certificate with cadc-get-cert)")
        if isinstance(exc, cadc.NotFoundException):
            return NotFound(f"VOSpace: not found: {exc}")
        if isinstance(exc, (cadc.TransferException, cadc.InternalServerException, cadc.UnexpectedException)):
            return TransientError(str(exc))
        if isinstance(exc, RuntimeError) and "Expired cert" in str(exc):
            return AuthError("VOSpace: the proxy certificate has expired (renew it with cadc-get-cert)")
        if _is_requests_transient(exc):
            return TransientError(str(exc))
        return super()._classify(exc)


def _is_requests_transient(exc: BaseException) -> bool:
    try:
        from requests import exceptions as rex
    except ImportError:  # pragma: no cover - requests comes with cadcutils
        return False
    return isinstance(exc, (rex.Timeout, rex.ConnectionError))


def _vos_client(cert: Path | None, token: str | None):
    import vos

    if token:
        return vos.Client(vospace_token=token)
    return vos.Client(vospace_certfile=str(cert) if cert else None)


class LocalArc(Storage):
    """A local folder that plays /arc for the local backend: the same semantics on real files."""

    name = "local"

    def __init__(self, root: Path, **kwargs):
        super().__init__(**kwargs)
        self.root = Path(root)

    def local_path(self, path: str) -> Path:
        """The file on this machine that a storage path names: the folder plays the site's storage root,
        ``/arc`` or ``/cavern``."""
        root, rest = split_storage_path(path)
        if root is None:
            raise UsageError(f"{path}: only /arc and /cavern paths exist on the local backend")
        rest = rest.strip("/")
        if any(part == ".." for part in rest.split("/")):
            raise UsageError(f"{path}: '..' is not allowed in storage paths")
        return self.root / rest if rest else self.root

    def describe(self, path: str) -> str:
        return str(self.local_path(path))

    def _stat(self, path: str) -> RemoteFile | None:
        target = self.local_path(path)
        if not target.is_file():
            return None
        return RemoteFile(target.stat().st_size, file_md5(target))

    def _is_dir(self, path: str) -> bool:
        return self.local_path(path).is_dir()

    def _is_file(self, path: str) -> bool:
        return self.local_path(path).is_file()

    def _listdir(self, path: str) -> list[str]:
        target = self.local_path(path)
        return os.listdir(target) if target.is_dir() else []

    def _make_dir(self, path: str) -> None:
        self.local_path(path).mkdir(parents=True, exist_ok=True)

    def _put(self, local: Path, path: str) -> None:
        target = self.local_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part-{os.getpid()}")
        try:
            shutil.copyfile(local, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def _get(self, path: str, local: Path) -> None:
        shutil.copyfile(self.local_path(path), local)

    def _open(self, path: str) -> BinaryIO:
        return open(self.local_path(path), "rb")

    def _walk(self, path: str) -> list[StoredFile]:
        top = self.local_path(path)
        found = []
        for folder, _, names in os.walk(top):
            prefix = os.path.relpath(folder, top)
            for name in names:
                info = os.stat(os.path.join(folder, name))
                found.append(StoredFile(name if prefix == "." else f"{prefix}/{name}", info.st_size))
        return found

    def _delete(self, path: str) -> None:
        target = self.local_path(path)
        target.rmdir() if target.is_dir() else target.unlink(missing_ok=True)

    def sha256(self, path: str) -> str | None:
        target = self.local_path(path)
        return file_digests(target).sha256 if target.is_file() else None


def open_storage(settings, **kwargs) -> Storage:
    """The storage that goes with a site: LocalArc under its local server's folder, or VOSpace; paths
    a config names are put on the site's storage root (:meth:`Storage.on_site`)."""
    kwargs.setdefault("site_path", settings.storage_path)
    if settings.backend == "local":
        return LocalArc(Path(settings.local_server_dir) / "arc", **kwargs)
    site = settings.site_entry
    cavern_uri = site.vospace if site is not None and site.storage_root == CAVERN else None
    return VOSpace(cert=settings.cert, token=settings.token, cavern_uri=cavern_uri, **kwargs)
