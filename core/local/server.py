"""HTTP face of the local server: Skaha v1 paths, cadc-rest parameter rules, bearer auth, fault injection.

Standard library ``ThreadingHTTPServer`` (one daemon thread per connection, HTTP/1.1 keep-alive).
The handler only translates between HTTP and :class:`srcnet_tui.core.local.scheduler.Scheduler`; wording and
content types of answers follow reference/skaha-api.md §3 and §8, so clients written for CANFAR work
against it unchanged (``CANFAR_URL=http://127.0.0.1:PORT/skaha/v1 CANFAR_TOKEN=...``).
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from srcnet_tui.core.local.context import (
    BadRequest,
    Capacity,
    context_document,
    images_document,
    repository_document,
    validate_create,
)
from srcnet_tui.core.local.faults import Faults
from srcnet_tui.core.local.scheduler import NoActiveJob, Scheduler
from srcnet_tui.core.local.views import ListingCache, events_table, public_session_json, session_json, stats_json

log = logging.getLogger("srcnet.local")

ROOT = "/skaha"
API = "/skaha/v1"
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1 << 20
AVAILABILITY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">
  <vosi:available>true</vosi:available>
  <vosi:note>Skaha Service Available. srcnet-tui local server on this machine.</vosi:note>
</vosi:availability>
"""
CAPABILITIES_XML = """<?xml version="1.0" encoding="UTF-8"?>
<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
    xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <capability standardID="ivo://ivoa.net/std/VOSI#capabilities">
    <interface xsi:type="vs:ParamHTTP" role="std">
      <accessURL use="full">{base}/capabilities</accessURL>
    </interface>
  </capability>
  <capability standardID="ivo://ivoa.net/std/VOSI#availability">
    <interface xsi:type="vs:ParamHTTP" role="std">
      <accessURL use="full">{base}/availability</accessURL>
    </interface>
  </capability>
{platform}</vosi:capabilities>
"""
PLATFORM_CAPABILITY = """  <capability standardID="http://www.opencadc.org/std/platform#{kind}-1">
    <interface xsi:type="vs:ParamHTTP" role="std" version="1.0">
      <accessURL use="base">{base}/v1/{kind}</accessURL>
      <securityMethod standardID="ivo://ivoa.net/sso#token"/>
    </interface>
  </capability>
"""


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class LocalSkahaServer(ThreadingHTTPServer):
    """The listening socket plus what every request needs: scheduler, token, faults."""

    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address, scheduler: Scheduler, token: str, faults: Faults, capacity: Capacity):
        self.scheduler = scheduler
        self.token = token
        self.faults = faults
        self.capacity = capacity
        self.listings = ListingCache()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SkahaHandler)

    @property
    def host(self) -> str:
        """The address bound to (text for IPv4 and IPv6, which socketserver's types do not say)."""
        return str(self.server_address[0])

    @property
    def base_url(self) -> str:
        host, port = self.host, self.server_address[1]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}{ROOT}"


class SkahaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls
    timeout = 300  # an idle keep-alive connection (or a silent client) releases its thread after this
    server_version = "srcnet-tui-local/1"
    server: LocalSkahaServer

    def log_message(self, format, *args):
        log.debug("%s - %s", self.address_string(), format % args)

    # --- entry points ------------------------------------------------------------------------
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_PUT(self):
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            body = self._read_body()
            if path == API or path.startswith(API + "/"):
                self._api(method, path[len(API) :], params, body)
            else:
                self._public(method, path)
        except HttpError as exc:
            self._send(exc.status, exc.args[0], "text/plain", exc.headers)
        except BadRequest as exc:
            self._send(400, str(exc), "text/plain")
        except ConnectionError:  # the client went away mid-answer
            self.close_connection = True
        except OSError as exc:  # the state folder cannot be written (full disk...): nothing was created
            log.error("request failed: %s %s: %s", method, url.path, exc)
            self._send(503, f"temporarily unavailable: {url.path}: {exc.strerror or exc}", "text/plain", {"Retry-After": "5"})
        except Exception as exc:  # a bug: answer like a servlet would, keep the server up
            log.exception("request failed: %s %s", method, url.path)
            self._send(500, f"{exc.__class__.__name__}: {exc}", "text/plain")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise HttpError(411, "Content-Length required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, "invalid Content-Length") from None
        if length > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
        return self.rfile.read(length) if length > 0 else b""

    # --- public (unversioned) paths ----------------------------------------------------------
    def _public(self, method: str, path: str) -> None:
        base = self.server.base_url
        if path == ROOT and method in ("HEAD", "GET"):
            self._send(200, "srcnet-tui local Skaha server\n", "text/plain")
        elif path == ROOT + "/availability" and method in ("GET", "HEAD"):
            self._send(200, AVAILABILITY_XML, "text/xml")
        elif path == ROOT + "/capabilities" and method in ("GET", "HEAD"):
            platform = "".join(
                PLATFORM_CAPABILITY.format(kind=k, base=base) for k in ("session", "context", "image", "repository")
            )
            self._send(200, CAPABILITIES_XML.format(base=base, platform=platform), "text/xml")
        else:
            raise HttpError(404, f"not found: {path}")

    # --- the API -----------------------------------------------------------------------------
    def _api(self, method: str, sub: str, params: dict, body: bytes) -> None:
        self._authorise()
        faults = self.server.faults
        faults.delay()
        if faults.answer_503():
            raise HttpError(503, f"temporarily unavailable: {self.path.split('?')[0]}", {"Retry-After": "1"})
        if method == "POST":
            params = self._with_form(params, body)
        status, payload, ctype = self._dispatch(method, sub, params)
        if faults.drop_after_acting():
            self._drop()
            return
        self._send(status, payload, ctype)

    def _authorise(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise HttpError(401, "Unauthorized")
        if not hmac.compare_digest(given.strip().encode(), self.server.token.encode()):
            raise HttpError(403, "permission denied -- reason: invalid bearer token")

    def _with_form(self, params: dict, body: bytes) -> dict:
        """cadc-rest: POST parameters count only with a urlencoded Content-Type (query and body alike)."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != FORM:
            return {}
        merged = {k: list(v) for k, v in params.items()}
        for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            merged.setdefault(key, []).extend(values)
        return merged

    def _dispatch(self, method: str, sub: str, params: dict) -> tuple[int, object, str]:
        parts = [p for p in sub.split("/") if p]
        if not parts:
            raise HttpError(404, f"not found: {self.path.split('?')[0]}")
        resource, rest = parts[0], parts[1:]
        if resource == "session":
            return self._session(method, rest, params)
        if method != "GET" or rest:
            raise HttpError(405 if not rest else 404, f"{method} not supported on {resource}")
        if resource == "context":
            return 200, context_document(self.server.capacity), "application/json"
        if resource == "image":
            return 200, images_document(_one(params, "type")), "application/json"
        if resource == "repository":
            return 200, repository_document(), "application/json"
        raise HttpError(404, f"not found: {self.path.split('?')[0]}")

    def _session(self, method: str, rest: list[str], params: dict) -> tuple[int, object, str]:
        scheduler = self.server.scheduler
        if len(rest) > 1:
            raise BadRequest("desktop-app sessions are not offered by the local server")
        if not rest:
            return self._on_collection(method, params)
        session_id = rest[0]
        if method == "DELETE":
            scheduler.delete(session_id)
            return 200, "", "text/plain"
        if method == "POST":
            return self._action(session_id, params)
        if method == "GET":
            return self._one(session_id, _one(params, "view"))
        raise HttpError(405, f"{method} not supported on session")

    def _on_collection(self, method: str, params: dict) -> tuple[int, object, str]:
        """``/session`` itself: list (GET) or create (POST)."""
        if method == "GET":
            return self._list(params)
        if method == "POST":
            return 200, self.server.scheduler.create(validate_create(params, self.server.capacity)) + "\n", "text/plain"
        if method == "DELETE":
            raise BadRequest("Cannot kill all sessions.")
        raise HttpError(405, f"{method} not supported on session")

    def _list(self, params: dict) -> tuple[int, object, str]:
        scheduler = self.server.scheduler
        view = (_one(params, "view") or "").lower()
        if view == "stats":
            cores, ram = scheduler.allocation()
            return 200, stats_json(self.server.capacity, cores, ram), "application/json"
        if view == "interactive":
            interactive = [(r, usage) for r, usage in scheduler.snapshot() if r["type"] != "headless"]
            return 200, [session_json(r, usage, scheduler.user) for r, usage in interactive], "application/json"
        kind, status = (_one(params, "type") or "").lower(), (_one(params, "status") or "").lower()
        rows = [
            (record, usage)
            for record, usage in scheduler.snapshot()
            if (not kind or record["type"] == kind) and (not status or record["state"].lower() == status)
        ]
        if view == "all":
            return 200, [public_session_json(r, scheduler.user) for r, _ in rows], "application/json"
        return 200, self.server.listings.render(rows, scheduler.user, complete=not (kind or status)), "application/json"

    def _one(self, session_id: str, view: str | None) -> tuple[int, object, str]:
        scheduler = self.server.scheduler
        not_found = HttpError(404, f"session {session_id} not found")
        if view == "logs":
            text = scheduler.logs(session_id)
            if text is None:
                raise not_found
            return 200, text, "text/plain"
        if view == "events":
            events = scheduler.events(session_id)
            if events is None:
                raise not_found
            return 200, events_table(events), "text/plain"
        found = scheduler.get(session_id)
        if found is None:
            raise not_found
        return 200, session_json(found[0], found[1], scheduler.user), "application/json"

    def _action(self, session_id: str, params: dict) -> tuple[int, object, str]:
        action = _one(params, "action")
        if action is None:
            raise BadRequest("Cannot modify an existing session")
        scheduler = self.server.scheduler
        if action == "renew":
            act = scheduler.renew
        elif action == "preempt" and self.server.faults.may_preempt():
            act = scheduler.preempt
        else:
            raise BadRequest("unrecognized action")
        try:
            act(session_id)
        except NoActiveJob as exc:
            raise BadRequest(str(exc)) from None
        return 200, "", "text/plain"

    # --- writing answers ---------------------------------------------------------------------
    def _send(self, status: int, payload, ctype: str, headers: dict | None = None) -> None:
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = (json.dumps(payload, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype if ctype != "text/plain" else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without an answer (fault injection, after the action took effect)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _one(params: dict, key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None
