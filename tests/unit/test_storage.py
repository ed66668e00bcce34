"""Storage: LocalArc on real files, VOSpace against an in-memory fake at the vos.Client boundary."""

from __future__ import annotations

import errno
import hashlib

import pytest
from cadcutils import exceptions as cadc

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import AuthError, NotFound, Unreachable, UsageError
from srcnet_tui.core.runs.storage import LocalArc, VOSpace, is_remote, join, to_uri


class FakeNode:
    def __init__(self, data: bytes | None):
        self.data = data
        self.props = {} if data is None else {"length": str(len(data)), "MD5": hashlib.md5(data).hexdigest()}

    def isdir(self):
        return self.data is None


class FakeVosClient:
    """The vos.Client methods storage.py calls, over a dict; can inject failures per method."""

    def __init__(self):
        self.nodes: dict[str, bytes | None] = {"arc:projects": None, "vos:": None}
        self.failures: dict[str, list[BaseException]] = {}
        self.calls: list[tuple[str, str]] = []
        self.corrupt_next_upload = False

    def _maybe_fail(self, method):
        queue = self.failures.get(method) or []
        if queue:
            raise queue.pop(0)

    def get_node(self, uri, limit=0, force=False):
        self._maybe_fail("get_node")
        if uri not in self.nodes:
            raise cadc.NotFoundException(f"{uri} not found")
        return FakeNode(self.nodes[uri])

    def mkdir(self, uri):
        self.calls.append(("mkdir", uri))
        self._maybe_fail("mkdir")
        if uri in self.nodes:
            raise cadc.AlreadyExistsException(f"{uri} exists")
        if uri.rsplit("/", 1)[0] not in self.nodes:
            raise cadc.NotFoundException(f"parent of {uri}")
        self.nodes[uri] = None

    def listdir(self, uri, force=False):
        prefix = uri.rstrip("/") + "/"
        return [k[len(prefix) :] for k in self.nodes if k.startswith(prefix) and "/" not in k[len(prefix) :]]

    def delete(self, uri):
        self.calls.append(("delete", uri))
        self._maybe_fail("delete")
        if any(k.startswith(uri.rstrip("/") + "/") for k in self.nodes):
            raise cadc.BadRequestException(f"{uri} is not empty")
        del self.nodes[uri]

    def copy(self, source, destination, send_md5=False, disposition=False, head=None):
        self._maybe_fail("copy")
        if destination.startswith(("arc:", "vos:")):
            self.calls.append(("put", destination))
            data = open(source, "rb").read()
            if self.corrupt_next_upload:
                self.corrupt_next_upload, data = False, data[:-1]
            self.nodes[destination] = data
        else:
            self.calls.append(("get", source))
            with open(destination, "wb") as handle:
                handle.write(self.nodes[source])
        return hashlib.md5(self.nodes.get(destination) or self.nodes.get(source) or b"").hexdigest()


@pytest.fixture
def fake():
    return FakeVosClient()


@pytest.fixture
def vospace(fake):
    return VOSpace(fake, retry=Backoff(first_s=0.0, attempts=4))


@pytest.fixture
def local_arc(tmp_path):
    return LocalArc(tmp_path / "arc", retry=Backoff(first_s=0.0, attempts=4))


def test_paths_map_only_the_leading_arc_prefix():
    assert to_uri("/arc/projects/x/arc/y.fits") == "arc:projects/x/arc/y.fits"
    assert to_uri("arc:home/u/f") == "arc:home/u/f"
    assert to_uri("vos:u/f") == "vos:u/f"
    assert is_remote("/arc/x") and is_remote("vos:x") and not is_remote("data/arc/x") and not is_remote("/arcade")
    assert join("/arc/p/", "run", "t1") == "/arc/p/run/t1"
    with pytest.raises(UsageError):
        to_uri("relative/file.fits")


def test_vospace_upload_skips_identical_and_verifies(vospace, fake, tmp_path):
    src = tmp_path / "sofia.par"
    src.write_text("a = 1\n")
    vospace.mkdir_p("/arc/projects/P/run1")
    first = vospace.upload(src, "/arc/projects/P/run1/sofia.par")
    second = vospace.upload(src, "/arc/projects/P/run1/sofia.par")
    assert not first.skipped and second.skipped
    assert [c for c in fake.calls if c[0] == "put"] == [("put", "arc:projects/P/run1/sofia.par")]
    src.write_text("a = 2\n")
    assert not vospace.upload(src, "/arc/projects/P/run1/sofia.par").skipped
    assert fake.nodes["arc:projects/P/run1/sofia.par"] == b"a = 2\n"


def test_vospace_upload_retries_a_corrupted_transfer(vospace, fake, tmp_path):
    src = tmp_path / "cube.fits"
    src.write_bytes(b"x" * 1000)
    fake.corrupt_next_upload = True
    result = vospace.upload(src, "arc:projects/cube.fits")
    assert not result.skipped and fake.nodes["arc:projects/cube.fits"] == b"x" * 1000
    assert len([c for c in fake.calls if c[0] == "put"]) == 2


def test_vospace_transient_errors_are_retried_then_reported(vospace, fake, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"data")
    fake.failures["copy"] = [cadc.TransferException("reset"), OSError(errno.EFAULT, "Failed copying")]
    assert not vospace.upload(src, "arc:projects/f").skipped
    fake.failures["copy"] = [cadc.InternalServerException("500")] * 10
    with pytest.raises(Unreachable, match="arc:projects/g"):
        vospace.upload(src, "arc:projects/g")


def test_vospace_auth_failure_is_exit_3(vospace, fake, tmp_path):
    fake.failures["get_node"] = [cadc.UnauthorizedException("401")]
    with pytest.raises(AuthError):
        vospace.stat("arc:projects/x")


def test_vospace_mkdir_p_tolerates_existing_and_creates_parents(vospace, fake):
    vospace.mkdir_p("/arc/projects/P/a/b")
    assert fake.nodes["arc:projects/P/a/b"] is None
    fake.calls.clear()
    vospace.mkdir_p("/arc/projects/P/a/b")
    assert not [c for c in fake.calls if c[0] == "mkdir"]
    fake.failures["mkdir"] = [cadc.AlreadyExistsException("raced")]
    vospace.mkdir_p("/arc/projects/Q")


def test_vospace_download_is_atomic_and_verified(vospace, fake, tmp_path):
    fake.nodes["arc:projects/out.txt"] = b"catalogue"
    dest = tmp_path / "logs" / "out.txt"
    assert not vospace.download("/arc/projects/out.txt", dest).skipped
    assert dest.read_bytes() == b"catalogue"
    assert vospace.download("/arc/projects/out.txt", dest).skipped
    fake.failures["copy"] = [cadc.TransferException("x")] * 10
    fake.nodes["arc:projects/out.txt"] = b"changed"
    with pytest.raises(Unreachable):
        vospace.download("/arc/projects/out.txt", dest)
    assert dest.read_bytes() == b"catalogue"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out.txt"]
    with pytest.raises(NotFound):
        vospace.download("/arc/projects/missing", tmp_path / "m")


def test_local_arc_same_semantics_on_real_files(local_arc, tmp_path):
    src = tmp_path / "p.par"
    src.write_text("x=1")
    local_arc.mkdir_p("/arc/projects/P/run")
    local_arc.mkdir_p("/arc/projects/P/run")
    assert not local_arc.upload(src, "/arc/projects/P/run/p.par").skipped
    assert local_arc.upload(src, "arc:projects/P/run/p.par").skipped
    assert (tmp_path / "arc/projects/P/run/p.par").read_text() == "x=1"
    assert local_arc.listdir("/arc/projects/P/run") == ["p.par"]
    dest = tmp_path / "back" / "p.par"
    local_arc.download("/arc/projects/P/run/p.par", dest)
    assert dest.read_text() == "x=1"
    with pytest.raises(UsageError):
        local_arc.local_path("/arc/../etc/passwd")
    with pytest.raises(UsageError):
        local_arc.local_path("vos:x")


def test_vospace_node_without_md5_is_uploaded_again_and_verified_by_size(vospace, fake, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"abc")
    vospace.upload(src, "arc:projects/f")
    original = fake.get_node

    def node_without_md5(uri, limit=0, force=False):
        node = original(uri, limit, force)
        node.props.pop("MD5", None)
        return node

    fake.get_node = node_without_md5
    result = vospace.upload(src, "arc:projects/f")
    assert not result.skipped and len([c for c in fake.calls if c[0] == "put"]) == 2


@pytest.mark.parametrize("which", ["vospace", "local_arc"])
def test_walk_lists_every_file_with_its_size_and_remove_deletes_files_then_empty_folders(which, request, tmp_path):
    storage = request.getfixturevalue(which)
    src = tmp_path / "f"
    for name, size in (("a.txt", 3), ("cubelets/c1.fits", 10), ("cubelets/deeper/c2.fits", 7)):
        src.write_bytes(b"x" * size)
        storage.mkdir_p(f"/arc/projects/R/{name}".rsplit("/", 1)[0])
        storage.upload(src, f"/arc/projects/R/{name}")
    assert [(f.relative, f.size) for f in storage.walk("/arc/projects/R")] == [
        ("a.txt", 3),
        ("cubelets/c1.fits", 10),
        ("cubelets/deeper/c2.fits", 7),
    ]
    assert storage.walk("/arc/projects/none") == []
    storage.remove("/arc/projects/R/cubelets/deeper/c2.fits")
    storage.remove("/arc/projects/R/cubelets/deeper")
    storage.remove("/arc/projects/R/cubelets/deeper")  # gone already: fine
    assert [f.relative for f in storage.walk("/arc/projects/R")] == ["a.txt", "cubelets/c1.fits"]
    assert not storage.is_dir("/arc/projects/R/cubelets/deeper")


def test_the_local_folder_plays_the_sites_root_whichever_it_is(tmp_path):
    storage = LocalArc(tmp_path)
    assert (
        storage.local_path("/cavern/home/me/x.fits") == storage.local_path("/arc/home/me/x.fits") == tmp_path / "home/me/x.fits"
    )
    with pytest.raises(UsageError, match="only /arc and /cavern paths"):
        storage.local_path("vos:home/x")


def test_cavern_paths_go_to_the_sites_vospace_and_need_it(fake):
    assert to_uri("/cavern/home/me/x.fits", "vos://src.example.org~cavern") == "vos://src.example.org~cavern/home/me/x.fits"
    with pytest.raises(UsageError, match=r"VOSpace for /cavern is not known; set vospace"):
        to_uri("/cavern/home/me")
    assert is_remote("/cavern/home/me") and not is_remote("/caverns")


def test_folders_are_made_on_a_cavern_site_too(tmp_path):
    storage = LocalArc(tmp_path)
    storage.mkdir_p("/cavern/home/me/run1")
    assert (tmp_path / "home" / "me" / "run1").is_dir()
