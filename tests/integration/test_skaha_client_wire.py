"""What the client puts on the wire and how it reacts to each kind of answer.

A small scripted HTTP server on loopback answers exactly what each test needs (a 503 with
Retry-After, a dropped connection after a create, a 401...), and records every request.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import AuthError, NotFound, Rejected, Unreachable, UsageError
from srcnet_tui.core.skaha import LaunchSpec, SkahaClient, SyncSkaha, ssl_context_for, validate_spec

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"
FAST = Backoff(first_s=0.01, cap_s=0.5, attempts=5, total_s=10, jitter=True)
DROP = object()


class Scripted:
    """A loopback server whose ``answer(request)`` returns (status, body, headers) or DROP."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                request = {
                    "method": self.command,
                    "path": url.path,
                    "headers": dict(self.headers),
                    "params": parse_qsl(url.query) + parse_qsl(body),
                }
                with scripted.lock:
                    scripted.requests.append(request)
                    scripted.in_flight += 1
                    scripted.max_in_flight = max(scripted.max_in_flight, scripted.in_flight)
                try:
                    result = scripted.answer(request)
                finally:
                    with scripted.lock:
                        scripted.in_flight -= 1
                if result is DROP:
                    self.close_connection = True
                    return
                status, payload, headers = result
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.send_response(status)
                for key, value in {"Content-Type": "text/plain", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())

            do_GET = do_POST = do_DELETE = _handle

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gave up (timeout tests) is expected here

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/skaha/v1"

    def posts(self):
        return [r for r in self.requests if r["method"] == "POST"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(answer):
        servers.append(Scripted(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def platform(sessions: list, on_create=None):
    """An answer function for the discovery and list calls; creates go to ``on_create``."""

    def answer(request):
        path, method = request["path"], request["method"]
        if path.endswith("/repository"):
            return 200, ["images.canfar.net"], {}
        if path.endswith("/context"):
            return 200, {"cores": {"options": [1, 2, 4]}, "memoryGB": {"options": [1, 2, 4, 8]}}, {}
        if path.endswith("/session") and method == "GET":
            return 200, sessions, {}
        if path.endswith("/session") and method == "POST":
            return on_create(request)
        return 404, "not scripted", {}

    return answer


async def test_every_request_carries_the_headers_and_auth(scripted):
    server = scripted(lambda r: (200, [] if r["method"] == "GET" else "", {}))
    async with SkahaClient(server.url, token="tok-123") as client:
        await client.list_sessions(type="headless", status="Running")
        await client.delete("abc12345")
        await client.renew("abc12345")
    for request in server.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["accept"] == "application/json"
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        assert headers["authorization"] == "Bearer tok-123"
    assert server.requests[0]["params"] == [("type", "headless"), ("status", "Running")]
    assert server.requests[1]["method"] == "DELETE" and server.requests[1]["path"] == "/skaha/v1/session/abc12345"
    assert server.requests[2]["params"] == [("action", "renew")]


async def test_create_sends_canfar_shaped_fields_and_replicas(scripted):
    counter = iter(range(100))
    server = scripted(platform([], lambda r: (200, f"id{next(counter):06d}\n", {})))
    spec = LaunchSpec("batch", IMAGE, cmd="python", args=["-m", "worker"], env={"A": "1"}, cores=2, ram=4, replicas=2)
    async with SkahaClient(server.url, token="t") as client:
        ids = await client.create(spec)
    assert sorted(ids) == ["id000000", "id000001"]
    params = sorted((dict(p["params"])["name"], p["params"]) for p in server.posts())
    create_ids = {value for _, sent in params for key, value in sent if key == "env" and value.startswith("SRCNET_CREATE_ID=")}
    assert len(create_ids) == 2  # one per replica (the same for every attempt of it)
    params = [(name, [kv for kv in sent if kv[1] not in create_ids]) for name, sent in params]
    assert params[0][1] == [
        ("name", "batch-1"),
        ("image", IMAGE),
        ("cores", "2"),
        ("ram", "4"),
        ("type", "headless"),
        ("cmd", "python"),
        ("args", "-m worker"),
        ("env", "A=1"),
        ("env", "REPLICA_ID=1"),
        ("env", "REPLICA_COUNT=2"),
    ]
    assert params[1][0] == "batch-2"


async def test_503_is_retried_honouring_retry_after(scripted):
    answers = iter([(503, "temporarily unavailable: /session", {"Retry-After": "0.3"}), (200, [{"id": "a"}], {})])
    server = scripted(lambda r: next(answers))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        started = time.monotonic()
        sessions = await client.list_sessions()
    assert [s.id for s in sessions] == ["a"]
    assert time.monotonic() - started >= 0.3
    assert len(server.requests) == 2


@pytest.mark.parametrize("status, error", [(400, Rejected), (401, AuthError), (403, AuthError), (404, NotFound)])
async def test_final_errors_are_not_retried_and_keep_the_server_text(scripted, status, error):
    text = "name can only contain alpha-numeric chars and '-'" if status != 404 else "session zz999999 not found"
    server = scripted(lambda r: (status, text, {}))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        with pytest.raises(error) as caught:
            await client.get("zz999999")
    assert text in str(caught.value)
    assert len(server.requests) == 1


async def test_exhausted_retries_become_unreachable(scripted):
    server = scripted(lambda r: (502, "bad gateway", {}))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        with pytest.raises(Unreachable, match="5 attempts"):
            await client.stats()
    assert len(server.requests) == 5


async def test_nothing_listening_is_unreachable():
    async with SkahaClient("http://127.0.0.1:9/skaha/v1", token="t", retries=FAST) as client:
        with pytest.raises(Unreachable, match="cannot connect"):
            await client.context()


async def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(scripted):
    sessions = [{"id": "old00001", "name": "job", "image": IMAGE, "status": "Completed"}]

    def create(request):
        sessions.append({"id": "new00001", "name": "job", "image": IMAGE, "status": "Pending"})
        return DROP  # the server acted, then the connection died before the answer

    server = scripted(platform(sessions, create))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        ids = await client.create(LaunchSpec("job", IMAGE, cmd="true"))
    assert ids == ["new00001"]  # not the older session with the same name
    assert len(server.posts()) == 1


async def test_a_create_refused_with_503_before_acting_is_sent_again(scripted):
    answers = iter([(503, "busy", {"Retry-After": "0"}), (200, "made0001\n", {})])
    server = scripted(platform([], lambda r: next(answers)))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        assert await client.create(LaunchSpec("job", IMAGE, cmd="true")) == ["made0001"]
    assert len(server.posts()) == 2


async def test_a_replica_finally_refused_leaves_nothing_behind(scripted):
    def create(request):
        name = dict(request["params"])["name"]
        return (400, "quota exceeded", {}) if name == "job-2" else (200, f"{name.replace('-', '')}xxxx\n", {})

    server = scripted(platform([], create))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        with pytest.raises(Rejected, match="quota exceeded"):
            await client.create(LaunchSpec("job", IMAGE, cmd="true", replicas=3))
    deleted = sorted(r["path"].rsplit("/", 1)[1] for r in server.requests if r["method"] == "DELETE")
    assert deleted == ["job1xxxx", "job3xxxx"]


async def test_concurrency_is_bounded(scripted):
    def slow(request):
        time.sleep(0.05)
        return 200, "", {}

    server = scripted(slow)
    async with SkahaClient(server.url, token="t", concurrency=4) as client:
        failures = await client.delete_all([f"s{i:07d}" for i in range(20)])
    assert failures == {}
    assert server.max_in_flight <= 4


def test_sync_face_runs_the_same_methods(scripted):
    server = scripted(lambda r: (200, {"cores": {"options": [1]}}, {}))
    with SyncSkaha(server.url, token="t") as client:
        assert client.context() == {"cores": {"options": [1]}}
        assert client.base_url == server.url + "/"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": "bad name"}, "name"),
        ({"name": "x" * 62, "replicas": 10}, "name"),
        ({"image": "docker.io/library/python:3"}, "image"),
        ({"args": ["--title", "two words"]}, "args[1]"),
        ({"args": ["a", ""]}, "args[1]"),
        ({"env": {"A": "x=y"}}, "env A"),
        ({"env": {"": "x"}}, "env"),
        ({"env": {"A": ""}}, "env A"),
        ({"cores": 0}, "cores"),
        ({"cores": 1.5}, "cores"),
        ({"ram": -4}, "ram"),
        ({"gpus": True}, "gpus"),
        ({"cores": 3}, "cores"),
        ({"replicas": 0}, "replicas"),
        ({"cmd": "python script.py"}, "cmd"),
    ],
)
def test_validate_spec_refuses_what_skaha_would_mangle(change, field):
    spec = LaunchSpec(**{"name": "ok", "image": IMAGE, "cmd": "python", **change})
    with pytest.raises(UsageError) as caught:
        validate_spec(spec, context={"cores": {"options": [1, 2, 4]}})
    assert str(caught.value).startswith(field)
    assert "\n" not in str(caught.value)


def test_validate_spec_accepts_a_good_spec():
    validate_spec(
        LaunchSpec("sweep-1", IMAGE, cmd="python", args=["-m", "worker"], env={"A": "1"}, cores=2, replicas=3),
        context={"cores": {"options": [1, 2, 4]}},
    )


def _write_cert(path, not_after):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + not_after)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def test_proxy_certificate_is_presented_with_verification_on(tmp_path):
    context = ssl_context_for(_write_cert(tmp_path / "cadcproxy.pem", dt.timedelta(days=5)))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    (tmp_path / "broken.pem").write_text("not a certificate")
    with pytest.raises(AuthError, match="broken.pem"):
        ssl_context_for(tmp_path / "broken.pem")


async def test_creates_share_one_listing_and_never_adopt_their_own_earlier_sessions(scripted):
    sessions = []
    counter = iter(range(100))

    def create(request):
        session_id = f"made{next(counter):04d}"
        sessions.append({"id": session_id, "name": dict(request["params"])["name"], "image": IMAGE})
        return DROP if len(sessions) == 2 else (200, session_id + "\n", {})

    server = scripted(platform(sessions, create))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        first = await client.create(LaunchSpec("same", IMAGE, cmd="true"))
        second = await client.create(LaunchSpec("same", IMAGE, cmd="true"))  # its answer is lost
    assert first == ["made0000"] and second == ["made0001"]
    assert len(server.posts()) == 2
    plain_lists = [r for r in server.requests if r["method"] == "GET" and r["path"].endswith("/session")]
    assert len(plain_lists) == 2  # one shared snapshot before the creates, one to recover the lost answer


async def test_a_create_that_timed_out_after_the_server_acted_is_adopted(scripted):
    sessions = []

    def slow_create(request):
        sessions.append({"id": "slow0001", "name": "job", "image": IMAGE, "status": "Pending"})
        time.sleep(0.6)  # the server acted, then the answer came too late for the client
        return 200, "slow0001\n", {}

    server = scripted(platform(sessions, slow_create))
    async with SkahaClient(server.url, token="t", timeout=0.2, retries=FAST) as client:
        assert await client.create(LaunchSpec("job", IMAGE, cmd="true")) == ["slow0001"]
    assert len(server.posts()) == 1


async def test_a_create_that_timed_out_before_the_server_acted_is_found_by_listing_again(scripted):
    sessions = []

    def late_create(request):
        time.sleep(0.5)  # held up before acting: the client's first recovery listing sees nothing yet
        sessions.append({"id": "late0001", "name": "job", "image": IMAGE, "status": "Pending"})
        return 200, "late0001\n", {}

    server = scripted(platform(sessions, late_create))
    async with SkahaClient(server.url, token="t", timeout=0.2, retries=FAST) as client:
        assert await client.create(LaunchSpec("job", IMAGE, cmd="true")) == ["late0001"]
    assert len(server.posts()) == 1


NOT_FOUND_PAGE = """<!DOCTYPE html>
<html>
<head><title>404 Not Found</title><style>body { color: red }</style></head>
<body>
<h1>Not Found</h1>
<p>The requested URL was not found on this server.\x1b[2J\x1b]0;pwned\x07</p>
<hr>
<address>Apache Server at example.org Port 443</address>
</body>
</html>
"""


def _cli_errors(result) -> list[str]:
    """The stderr lines a user reads, besides the backend notice; never a traceback or asyncio noise."""
    assert "Traceback" not in result.stderr and "Task" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if not line.startswith("backend:")]


def test_a_wrong_url_answering_an_html_page_is_one_clean_line_naming_the_url(scripted, cli):
    server = scripted(lambda r: (404, NOT_FOUND_PAGE, {"Content-Type": "text/html"}))
    result = cli("--url", server.url, "--token", "t", "sessions")
    assert result.returncode == 2
    (error,) = _cli_errors(result)
    assert error.startswith(f"error: {server.url}/session: HTTP 404")
    assert "The requested URL was not found" in error and "is the URL right?" in error
    assert "<" not in error and "\x1b" not in error and "\x07" not in error and "color" not in error
    assert len(error) < 300


async def test_a_long_or_escaped_refusal_is_cut_and_cleaned_but_skahas_own_text_is_verbatim(scripted):
    answers = iter([(400, "bad\x1b[31m request\n" + "x" * 500, {}), (400, "image not found: foo:1", {})])
    server = scripted(lambda r: next(answers))
    async with SkahaClient(server.url, token="t", retries=FAST) as client:
        with pytest.raises(Rejected) as long_one:
            await client.stats()
        with pytest.raises(Rejected) as skahas:
            await client.stats()
    assert str(long_one.value).startswith(f"{server.url}/session: HTTP 400")
    assert "\x1b" not in str(long_one.value) and "\n" not in str(long_one.value) and len(str(long_one.value)) < 300
    assert str(skahas.value) == "image not found: foo:1"


def test_a_launch_whose_first_checks_fail_leaves_no_asyncio_noise(scripted, cli):
    def answer(request):
        if request["path"].endswith("/session"):
            time.sleep(1.0)  # the listing is still under way when the other checks fail
            return 200, [], {}
        return 401, "token expired", {}

    server = scripted(answer)
    result = cli("--url", server.url, "--token", "t", "launch", "--name", "job", "--image", IMAGE, "--", "true")
    assert result.returncode == 3
    (error,) = _cli_errors(result)
    assert "token expired" in error
    assert not server.posts()


def test_a_struggling_platform_is_reported_while_the_cli_retries(scripted, cli):
    server = scripted(lambda r: (503, "<html><body>Service Unavailable [/b]</body></html>", {"Retry-After": "1"}))
    result = cli("--url", server.url, "--token", "t", "sessions", "--json", env={"SRCNET_RETRY_TOTAL_S": "4"})
    assert result.returncode == 4 and result.stdout == ""
    *progress, error = _cli_errors(result)
    assert progress and all("retrying (" in line and "/8)" in line and "Service Unavailable" in line for line in progress)
    assert error.startswith(f"error: {server.url}/session: no answer after")


async def test_a_silent_server_is_reported_before_the_request_gives_up(scripted, monkeypatch):
    import srcnet_tui.core.skaha

    monkeypatch.setattr(srcnet_tui.core.skaha, "SLOW_ANSWER_S", 0.2)
    server = scripted(lambda r: (time.sleep(0.6), (200, {"cores": 1}, {}))[1])
    heard = []
    async with SkahaClient(server.url, token="t", retries=FAST, progress=heard.append) as client:
        assert await client.stats() == {"cores": 1}
    assert heard == [f"{server.url}/session: no answer yet after 0.2 s; waiting up to 30 s (attempt 1/5)"]
