"""The one Skaha v1 client: async httpx, retries that never duplicate a create, checks before sending.

CANFAR is reached over networks that drop connections, time out and answer 503; the official
``canfar`` client retries nothing (reference/skaha-api.md §5.3). Here every request is retried on
transient failures with bounded exponential backoff and jitter, while 400/401/403/404 are final and
their text reaches the user verbatim as :mod:`srcnet_tui.core.errors` exceptions.

A create is the one request that must not be repeated blindly: after an ambiguous failure (the
connection dropped or timed out after sending, or a 5xx) the client lists the sessions and adopts
one with that name and image that was not there before this create began (nor made by this
client since); when the request may still be on its way (timeout, dropped connection, gateway
error) it lists again after short waits before resending (:meth:`SkahaClient._adopt_created`
says what window remains). Every create also carries ``SRCNET_CREATE_ID`` in its environment,
the same for all its attempts: serve-local answers a repeated create id with the first session,
which closes that window locally (Skaha ignores it; its session JSON does not show env). Creates
of one name within a client run one after another, so two of them can never claim the same session.

What a server says goes into one error line: Skaha's short plain-text messages verbatim, anything
else (a proxy's HTML page, a long or multi-line body, terminal escapes) summarised as one clean line
after the URL and HTTP status (:func:`server_message`). A caller may pass ``progress`` to hear about
slow answers and retries while they happen (the CLI prints them on stderr).

Inputs that Skaha would silently mangle (``args`` split on single spaces, ``env`` values holding
``=``, names it rewrites) are refused before anything is sent: :func:`validate_spec`.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import math
import os
import re
import ssl
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import AuthError, NotFound, Rejected, SrcnetError, Unreachable, UsageError
from srcnet_tui.core.models import Session, parse_sessions
from srcnet_tui.core.pending import explain_pending
from srcnet_tui.core.skaha_rules import (
    CREATE_ID_ENV,
    DEFAULT_REGISTRIES,
    MAX_NAME,
    NAME_PATTERN,
    SESSION_ID_PATTERN,
    arg_problem,
    env_problem,
    from_registry,
    is_one_word,
    stored_name,
)

T = TypeVar("T")
MAX_REPLICAS = 512
POOL_SIZE = 8
SNAPSHOT_TTL_S = 10.0
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
GATEWAY_STATUS = frozenset({502, 504})  # a proxy gave up: the request may still reach the service
CLIENT_RETRIES = Backoff(first_s=0.25, factor=2.0, cap_s=10.0, attempts=8, total_s=120.0, jitter=True)
"""Every request: up to 8 tries within 120 s, full-jitter pauses doubling from 0.25 s to 10 s."""
RELIST = Backoff(first_s=0.5, factor=3.0, attempts=3)
"""Listings after an ambiguous create that may still be on its way: now, after 0.5 s, after 1.5 s more."""
HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
MAX_MESSAGE = 200
SLOW_ANSWER_S = 5.0  # an unanswered request is reported (``progress``) after this long
RETRY_NOTICE_AFTER_S = 2.0  # retries are reported once a request has been trying this long
NOTICE_GAP_S = 4.0  # at most one progress report this often (concurrent requests share it)


@dataclass
class LaunchSpec:
    """What to run in one headless session (``replicas`` > 1 gives NAME-1..NAME-N, as canfar does)."""

    name: str
    image: str
    cmd: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cores: int | None = None
    ram: int | None = None
    gpus: int | None = None
    replicas: int = 1


def retries_from_env(environ: Mapping[str, str] | None = None) -> Backoff:
    """:data:`CLIENT_RETRIES`, with ``SRCNET_RETRY_ATTEMPTS`` / ``SRCNET_RETRY_TOTAL_S`` from the environment."""
    env = os.environ if environ is None else environ
    policy = CLIENT_RETRIES
    try:
        attempts = int(env.get("SRCNET_RETRY_ATTEMPTS") or policy.attempts or 1)
        total_s = float(env.get("SRCNET_RETRY_TOTAL_S") or policy.total_s or math.inf)
    except ValueError:
        raise UsageError("SRCNET_RETRY_ATTEMPTS / SRCNET_RETRY_TOTAL_S: must be numbers") from None
    return replace(policy, attempts=max(attempts, 1), cap_s=min(policy.cap_s, total_s), total_s=total_s)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        return moment.timestamp() - time.time() if moment else None


def _positive_int(label: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise UsageError(f"{label}: must be a positive whole number, not {value!r}")


def replica_names(spec: LaunchSpec) -> list[str]:
    if spec.replicas == 1:
        return [spec.name]
    return [f"{spec.name}-{i}" for i in range(1, spec.replicas + 1)]


def _check_offered(label: str, value, options) -> None:
    if value is None or not isinstance(options, list) or not options:
        return
    if int(value) not in {int(o) for o in options if isinstance(o, (int, float))}:
        shown = ", ".join(str(o) for o in options)
        raise UsageError(f"{label}: {value} is not offered by this platform (choose from {shown})")


def _context_options(context: dict | None, key: str, legacy: str):
    if not isinstance(context, dict):
        return None
    block = context.get(key)
    if isinstance(block, dict):
        return block.get("options")
    return context.get(legacy)


def validate_spec(
    spec: LaunchSpec, registries=DEFAULT_REGISTRIES, context: dict | None = None, *, check_image: bool = True
) -> None:
    """Refuse, with one line naming the field, anything Skaha would reject or silently mangle.

    ``check_image=False`` skips the registry check (for checking a spec before the server is known).
    """
    _check_names(spec)
    image = (spec.image or "").strip()
    if not image or (check_image and not from_registry(image, registries)):
        raise UsageError(f"image: {spec.image!r} must come from one of: {', '.join(registries)}")
    _check_command(spec)
    _check_env(spec.env)
    for label in ("cores", "ram", "gpus"):
        _positive_int(label, getattr(spec, label))
    _check_offered("cores", spec.cores, _context_options(context, "cores", "availableCores"))
    _check_offered("ram", spec.ram, _context_options(context, "memoryGB", "availableRAM"))
    _check_offered("gpus", spec.gpus, _context_options(context, "gpus", "availableGPUs"))


def _check_names(spec: LaunchSpec) -> None:
    if not spec.name or not NAME_PATTERN.fullmatch(spec.name):
        raise UsageError(f"name: {spec.name!r} may contain only letters, digits and '-'")
    _positive_int("replicas", spec.replicas)
    if spec.replicas > MAX_REPLICAS:
        raise UsageError(f"replicas: at most {MAX_REPLICAS}, not {spec.replicas}")
    longest = replica_names(spec)[-1]
    if len(longest) > MAX_NAME:
        raise UsageError(f"name: {longest!r} is longer than {MAX_NAME} characters")


def _check_command(spec: LaunchSpec) -> None:
    """Skaha joins ``args`` with spaces and splits them again: each one must survive that."""
    if spec.cmd is not None and not is_one_word(spec.cmd):
        raise UsageError(f"cmd: {spec.cmd!r} must be one word (put its arguments after it)")
    if spec.args and spec.cmd is None:
        raise UsageError("args: given without a command")
    for i, arg in enumerate(spec.args):
        problem = arg_problem(arg)
        if problem:
            raise UsageError(f"args[{i}]: {problem}")


def _check_env(env: dict[str, str]) -> None:
    """Skaha splits each ``KEY=VALUE`` at '=' and drops what does not split into two non-empty parts."""
    for key, value in env.items():
        problem = env_problem(key, str(value))
        if problem:
            raise UsageError(problem)


def create_params(spec: LaunchSpec, name: str, replica: int, create_id: str | None = None) -> list[tuple[str, str]]:
    """The form fields of one create, in the order canfar sends them."""
    params = [("name", name), ("image", spec.image.strip())]
    for label in ("cores", "ram"):
        if getattr(spec, label) is not None:
            params.append((label, str(int(getattr(spec, label)))))
    params.append(("type", "headless"))
    if spec.gpus is not None:
        params.append(("gpus", str(int(spec.gpus))))
    if spec.cmd is not None:
        params.append(("cmd", spec.cmd))
    if spec.args:
        params.append(("args", " ".join(spec.args)))
    env = dict(spec.env)
    if spec.replicas > 1:
        env.update(REPLICA_ID=str(replica), REPLICA_COUNT=str(spec.replicas))
    if create_id:
        env[CREATE_ID_ENV] = create_id
    params.extend(("env", f"{k}={v}") for k, v in env.items())
    return params


def ssl_context_for(cert: Path) -> ssl.SSLContext:
    """TLS ≥1.2 with verification on, presenting the CADC proxy certificate."""
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert))
    except (OSError, ssl.SSLError) as exc:
        raise AuthError(f"{cert}: cannot use the proxy certificate: {exc}") from None
    return context


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x1f\x7f-\x9f]")
_INVISIBLE_HTML = re.compile(r"<(head|script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` without terminal escapes or control characters, whitespace collapsed, cut to ``limit``."""
    flat = " ".join(_ESCAPES.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _looks_like_html(response: httpx.Response, text: str) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower() or text.lstrip().startswith("<")


def server_message(response: httpx.Response) -> tuple[str, bool]:
    """What the server said as one clean line, and whether that is its own short plain text
    (a Skaha message, worth showing verbatim) rather than a summary of some other page."""
    text = response.text.strip()
    if _looks_like_html(response, text):
        text = html.unescape(_TAG.sub(" ", _INVISIBLE_HTML.sub(" ", text)))
        return one_line(text) or response.reason_phrase, False
    line = one_line(text)
    return (line, True) if line and line == text else (line or response.reason_phrase, False)


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class _Transient(Exception):
    """One failed attempt worth retrying; ``ambiguous`` when the server may have acted, ``in_flight``
    when it may still act (no answer came from the service itself)."""

    def __init__(self, reason: str, ambiguous: bool, retry_after: float | None = None, in_flight: bool = False):
        super().__init__(reason)
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.in_flight = in_flight


class SkahaClient:
    """Async client for one Skaha v1 service; use ``async with`` or call :meth:`aclose`.

    ``progress(message)``, when given, hears about requests still unanswered after ``SLOW_ANSWER_S``
    and about retries once a request has been failing for ``RETRY_NOTICE_AFTER_S`` (rate-limited).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        cert: str | Path | None = None,
        *,
        timeout: float = 30.0,
        retries: Backoff | None = None,
        concurrency: int = 32,
        progress: Callable[[str], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.retries = retries or retries_from_env()
        self.timeout = timeout
        self._progress = progress
        self._last_notice = -math.inf
        self._background: set[asyncio.Task] = set()
        self._pools = self._open_pools(token, cert, timeout, concurrency)
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(concurrency):
            self._slots.put_nowait(slot // POOL_SIZE)
        self._name_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._cache: dict[str, object] = {}
        self._created: set[str] = set()  # every session this client created or adopted
        self._snapshot: tuple[float, asyncio.Future] | None = None

    def _open_pools(
        self, token: str | None, cert: str | Path | None, timeout: float, concurrency: int
    ) -> list[httpx.AsyncClient]:
        """httpcore's pool does O(connections²) work per request; several small pools keep that cheap.
        Each slot of the concurrency bound belongs to one pool, so no pool ever queues requests."""
        headers = dict(HEADERS)
        verify: bool | ssl.SSLContext = True
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif cert:
            verify = ssl_context_for(Path(cert))
        return [
            httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                verify=verify,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
                trust_env=not _is_loopback(self.base_url),
            )
            for _ in range(math.ceil(concurrency / POOL_SIZE))
        ]

    async def __aenter__(self) -> SkahaClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        background = list(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await asyncio.gather(*(pool.aclose() for pool in self._pools))

    def _in_background(self, coroutine) -> asyncio.Task:
        """A task that may outlive the caller awaiting it (shared work); :meth:`aclose` cancels it."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # whoever awaited it has the error; nobody else needs to hear of it

    def _tell(self, message: str) -> None:
        """Pass ``message`` to ``progress``, at most once per ``NOTICE_GAP_S``."""
        if self._progress is None or time.monotonic() - self._last_notice < NOTICE_GAP_S:
            return
        self._last_notice = time.monotonic()
        self._progress(message)

    def _url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    # --- transport -------------------------------------------------------------------------

    async def _attempt(self, method: str, path: str, params, label: str) -> httpx.Response:
        """One HTTP exchange; transient trouble becomes :class:`_Transient`, final errors are raised."""
        pool = await self._slots.get()
        slow = asyncio.get_running_loop().call_later(
            SLOW_ANSWER_S,
            self._tell,
            f"{self._url(path)}: no answer yet after {SLOW_ANSWER_S:g} s; waiting up to {self.timeout:g} s ({label})",
        )
        try:
            response = await self._pools[pool].request(method, path, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Transient(f"cannot connect ({_describe(exc)})", ambiguous=False) from None
        except httpx.TimeoutException as exc:
            reason = f"no answer within {self.timeout:g} s ({_describe(exc)})"
            raise _Transient(reason, ambiguous=True, in_flight=True) from None
        except httpx.TransportError as exc:
            raise _Transient(f"connection lost ({_describe(exc)})", ambiguous=True, in_flight=True) from None
        finally:
            slow.cancel()
            self._slots.put_nowait(pool)
        if response.is_success:
            return response
        if response.status_code in RETRYABLE_STATUS:
            reason = f"HTTP {response.status_code}: {server_message(response)[0]}"
            raise _Transient(
                reason, ambiguous=True, retry_after=_retry_after(response), in_flight=response.status_code in GATEWAY_STATUS
            )
        raise self._final_error(response, path)

    def _final_error(self, response: httpx.Response, path: str) -> SrcnetError:
        """Skaha's own short message verbatim; anything else after the URL and HTTP status."""
        text, is_skahas = server_message(response)
        status = response.status_code
        where = f"{self._url(path)}: HTTP {status} {response.reason_phrase}".rstrip()
        if status == 400:
            return Rejected(text if is_skahas else f"{where}: {text}")
        if status in (401, 403):
            return AuthError(f"{self.base_url}: {text} (HTTP {status})")
        if status == 404 and is_skahas:
            return NotFound(text if "not found" in text.lower() else f"{where}: {text}")
        if status == 404:
            return NotFound(f"{where} ({text}); is the URL right?")
        return SrcnetError(f"{where}: {text}")

    async def _send(
        self, method: str, path: str, params: Any = None, *, recover: Callable[[bool], Awaitable[str | None]] | None = None
    ) -> httpx.Response | str:
        """Send with retries; ``recover(in_flight)`` runs before re-sending after an ambiguous failure
        and may return a session id that replaces the request (how a create avoids duplicating itself)."""
        schedule = self.retries.start()
        attempts = self.retries.attempts or "∞"
        ambiguous = in_flight = False
        while True:
            if ambiguous and recover is not None and (found := await recover(in_flight)) is not None:
                return found
            try:
                return await self._attempt(method, path, params, f"attempt {schedule.tries}/{attempts}")
            except _Transient as failure:
                ambiguous, in_flight = ambiguous or failure.ambiguous, failure.in_flight
                last = str(failure)
                pause = schedule.next_pause(failure.retry_after)
            if pause is None:
                break
            if schedule.elapsed() >= RETRY_NOTICE_AFTER_S:
                self._tell(f"{self._url(path)}: {last}; retrying ({schedule.tries}/{attempts})")
            await asyncio.sleep(pause)
        if ambiguous and recover is not None and (found := await recover(in_flight)) is not None:
            return found
        tries = "1 attempt" if schedule.tries == 1 else f"{schedule.tries} attempts"
        raise Unreachable(f"{self._url(path)}: no answer after {tries} ({last})")

    async def _request(self, method: str, path: str, params: Any = None) -> httpx.Response:
        """:meth:`_send` without a recovery, so the answer is always the server's response."""
        response = await self._send(method, path, params)
        assert isinstance(response, httpx.Response)
        return response

    async def _json(self, path: str, params: Any = None) -> Any:
        response = await self._request("GET", path, params)
        try:
            return response.json()
        except ValueError:
            raise SrcnetError(f"{self.base_url}{path}: the server sent something that is not JSON") from None

    async def _text(self, path: str, params: Any = None) -> str:
        return (await self._request("GET", path, params)).text

    # --- sessions --------------------------------------------------------------------------

    async def list_sessions(self, type: str | None = None, status: str | None = None) -> list[Session]:
        params = {k: v for k, v in (("type", type), ("status", status)) if v}
        return parse_sessions(await self._json("session", params or None))

    async def get(self, session_id: str) -> Session:
        data = await self._json(f"session/{_safe_id(session_id)}")
        return Session.from_json(data)

    async def logs(self, session_id: str) -> str:
        return await self._text(f"session/{_safe_id(session_id)}", {"view": "logs"})

    async def events(self, session_id: str) -> str:
        return await self._text(f"session/{_safe_id(session_id)}", {"view": "events"})

    async def delete(self, session_id: str) -> None:
        await self._request("DELETE", f"session/{_safe_id(session_id)}")

    async def renew(self, session_id: str) -> None:
        """Extend a session's expiry; one line of ours when Skaha refuses because it has no running job."""
        try:
            await self._request("POST", f"session/{_safe_id(session_id)}", {"action": "renew"})
        except Rejected as refused:
            if "no active job" not in str(refused).lower():
                raise
            raise Rejected(await self._why_not_renewable(session_id)) from None

    async def _why_not_renewable(self, session_id: str) -> str:
        """What Skaha's "No active job" means for this session: it has ended, or it is still queued."""
        session = await self.get(session_id)  # NotFound when it has vanished too
        if session.is_terminal:
            return f"session {session_id}: already {session.status}, so there is nothing to renew (only a Running session can be)"
        return f"session {session_id}: {session.status}, not Running yet; renew it once it runs"

    async def stats(self) -> dict:
        return await self._json("session", {"view": "stats"})

    async def images(self, type: str | None = None) -> list[dict]:
        data = await self._json("image", {"type": type} if type else None)
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    async def context(self) -> dict:
        data = await self._json("context")
        self._cache["context"] = data
        return data

    async def repository(self) -> list[str]:
        data = await self._json("repository")
        return [str(host) for host in data] if isinstance(data, list) else []

    async def availability(self) -> str:
        """The unversioned VOSI availability document (XML text) of the service root."""
        return await self._text(self._root_url() + "availability")

    async def capabilities(self) -> str:
        """The unversioned VOSI capabilities document (XML text) of the service root."""
        return await self._text(self._root_url() + "capabilities")

    def _root_url(self) -> str:
        return re.sub(r"/v\d+/$", "/", self.base_url)

    # --- bulk ------------------------------------------------------------------------------

    async def delete_all(self, session_ids: Iterable[str]) -> dict[str, SrcnetError]:
        """Delete concurrently; returns the ids that could not be deleted, with their errors."""
        return await _failures(self.delete, session_ids)

    async def renew_all(self, session_ids: Iterable[str]) -> dict[str, SrcnetError]:
        """Renew concurrently; returns the ids that could not be renewed, with their errors."""
        return await _failures(self.renew, session_ids)

    # --- create ----------------------------------------------------------------------------

    async def _cached(self, key: str, fetch, fallback):
        if key not in self._cache:
            try:
                self._cache[key] = await fetch()
            except (NotFound, Rejected):
                self._cache[key] = fallback
        return self._cache[key]

    async def registries(self) -> tuple[str, ...]:
        hosts = await self._cached("repository", self.repository, list(DEFAULT_REGISTRIES))
        return tuple(hosts) or DEFAULT_REGISTRIES

    async def create(self, spec: LaunchSpec) -> list[str]:
        """Create ``spec.replicas`` sessions; returns their ids in replica order.

        Never creates a session twice, and leaves nothing behind when any replica finally fails.
        """
        validate_spec(spec, check_image=False)
        names = replica_names(spec)
        async with AsyncExitStack() as stack:
            for name in sorted({n.lower() for n in names}):
                await stack.enter_async_context(self._name_locks[name])
            registries, context, before = await _all_or_nothing(
                self.registries(), self._cached("context", self.context, {}), self._existing_ids()
            )
            validate_spec(spec, registries, context)
            tasks = [self._create_one(spec, name, replica, before) for replica, name in enumerate(names, start=1)]
            results = await asyncio.gather(*tasks, return_exceptions=True)
        ids = [r for r in results if isinstance(r, str)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            # Best effort: the error the caller is about to see matters more than a failed clean-up.
            await self.delete_all(ids)
            raise failures[0]
        return ids

    async def _existing_ids(self) -> set[str]:
        """Ids of sessions that existed before now: a listing shared by the creates of the next
        ``SNAPSHOT_TTL_S`` (sessions this client made since are known from ``_created``)."""
        taken_at, listing = self._snapshot or (0.0, None)
        if listing is None or time.monotonic() - taken_at > SNAPSHOT_TTL_S:
            listing = self._in_background(self.list_sessions(type="headless"))
            self._snapshot = (time.monotonic(), listing)
        try:
            return {s.id for s in await asyncio.shield(listing)}
        except BaseException:
            if self._snapshot and self._snapshot[1] is listing:
                self._snapshot = None
            raise

    async def _create_one(self, spec: LaunchSpec, name: str, replica: int, before: set[str]) -> str:
        params = create_params(spec, name, replica, create_id=uuid.uuid4().hex)

        async def adopt(in_flight: bool) -> str | None:
            return await self._adopt_created(stored_name(name), spec.image.strip(), before, in_flight)

        outcome = await self._send("POST", "session", params, recover=adopt)
        if isinstance(outcome, str):
            return outcome
        session_id = outcome.text.strip()
        if not session_id:
            raise SrcnetError(f"{self.base_url}session: create of {name!r} returned no session id")
        self._created.add(session_id)
        return session_id

    async def _adopt_created(self, name: str, image: str, before: set[str], in_flight: bool) -> str | None:
        """The session an ambiguous create made, if the listing shows one; None means "resend".

        When the last attempt may still be on its way (timeout, dropped connection, gateway error),
        the listing is repeated as :data:`RELIST` says before giving up. What remains
        on CANFAR: an attempt that reaches Skaha more than those ~2 s after the client gave up on it
        (held in a proxy queue) is created after the resend, and the session exists twice. On
        serve-local the create id closes that window (the resend gets the first session).
        """
        schedule = RELIST.start()
        while (found := await self._listed_new(name, image, before)) is None and in_flight:
            pause = schedule.next_pause()
            if pause is None:
                break
            await asyncio.sleep(pause)
        return found

    async def _listed_new(self, name: str, image: str, before: set[str]) -> str | None:
        """A listed session of that name and image that is neither older than the create nor already claimed."""
        for session in await self.list_sessions(type="headless"):
            if session.name == name and session.image == image and session.id not in before and session.id not in self._created:
                self._created.add(session.id)
                return session.id
        return None


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _failures(call: Callable[[str], Awaitable[None]], session_ids: Iterable[str]) -> dict[str, SrcnetError]:
    """Run ``call`` for every id concurrently (bounded by the client's concurrency); the ids that failed, with their errors."""

    async def one(session_id: str) -> SrcnetError | None:
        try:
            await call(session_id)
        except SrcnetError as exc:
            return exc
        return None

    ids = list(dict.fromkeys(session_ids))
    results = await asyncio.gather(*(one(i) for i in ids))
    return {i: error for i, error in zip(ids, results) if error is not None}


async def _all_or_nothing(*coroutines: Awaitable[Any]) -> list[Any]:
    """Like :func:`asyncio.gather`, but when one fails the others are cancelled (and awaited)
    before its error propagates, so nothing is left running or unretrieved."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _safe_id(session_id: str) -> str:
    text = str(session_id).strip()
    if not SESSION_ID_PATTERN.fullmatch(text):
        raise NotFound(f"session {session_id!r} not found (not a session id)")
    return text


class SyncSkaha:
    """The blocking face of :class:`SkahaClient` for the CLI: each method runs the client's call on a private loop."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        cert: str | Path | None = None,
        *,
        timeout: float = 30.0,
        retries: Backoff | None = None,
        progress: Callable[[str], None] | None = None,
    ):
        self._client = SkahaClient(base_url, token, cert, timeout=timeout, retries=retries, progress=progress)
        self._loop = asyncio.new_event_loop()

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def _run(self, call: Awaitable[T]) -> T:
        return self._loop.run_until_complete(call)

    def list_sessions(self, type: str | None = None, status: str | None = None) -> list[Session]:
        return self._run(self._client.list_sessions(type, status))

    def get(self, session_id: str) -> Session:
        return self._run(self._client.get(session_id))

    def logs(self, session_id: str) -> str:
        return self._run(self._client.logs(session_id))

    def events(self, session_id: str) -> str:
        return self._run(self._client.events(session_id))

    def create(self, spec: LaunchSpec) -> list[str]:
        return self._run(self._client.create(spec))

    def delete_all(self, session_ids: Iterable[str]) -> dict[str, SrcnetError]:
        return self._run(self._client.delete_all(session_ids))

    def renew_all(self, session_ids: Iterable[str]) -> dict[str, SrcnetError]:
        return self._run(self._client.renew_all(session_ids))

    def stats(self) -> dict:
        return self._run(self._client.stats())

    def images(self, type: str | None = None) -> list[dict]:
        return self._run(self._client.images(type))

    def context(self) -> dict:
        return self._run(self._client.context())

    def pending_reasons(self, sessions: list[Session]) -> dict[str, str]:
        """:func:`srcnet_tui.core.pending.explain_pending` for a listing: the client's reason per Pending session."""
        return self._run(explain_pending(self._client, sessions))

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._client.aclose())
            self._loop.close()

    def __enter__(self) -> SyncSkaha:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
