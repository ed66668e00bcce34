"""The session commands: sessions, launch, info, logs, events, wait, delete, renew, stats, images, context.

Each command resolves the settings, refuses an unusable credential (exit 3, one line: no backend
notice claiming a credential was found), names the backend on stderr, and then talks through
:class:`srcnet_tui.core.skaha.SyncSkaha`, which reports slow answers and retries on stderr as they happen.
Polls (``logs --follow``, ``wait``) pace themselves with :class:`srcnet_tui.core.backoff.Backoff`.
Tables are for people; ``--json`` output is for scripts and uses Skaha's field names.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from srcnet_tui.core import multisite, sites
from srcnet_tui.core import settings as settings_module
from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.cli.output import notice, print_json, stderr, stdout
from srcnet_tui.core.connect import open_sync
from srcnet_tui.core.credentials import require_credential
from srcnet_tui.core.errors import NotFound, SrcnetError, TaskFailed, Unreachable, UsageError
from srcnet_tui.core.logtail import new_text
from srcnet_tui.core.models import Session, parse_events
from srcnet_tui.core.pending import explain_pending
from srcnet_tui.core.site_targets import site_settings
from srcnet_tui.core.skaha import LaunchSpec, SkahaClient, SyncSkaha, validate_spec
from srcnet_tui.core.skaha_rules import COMPLETED, FAILED, PENDING, RUNNING, STATUSES, TERMINATING

if TYPE_CHECKING:
    from srcnet_tui.core.accounting import SessionAllocation

STATUS_STYLE = {PENDING: "yellow", RUNNING: "cyan", COMPLETED: "green", FAILED: "red", TERMINATING: "magenta"}
FOLLOW_POLL = Backoff(first_s=0.5, factor=1.5, cap_s=5.0)
"""``logs --follow``: every 0.5 s while the log grows, slowing to every 5 s while it is quiet."""
WAIT_POLL = Backoff(first_s=1.0, factor=1.5, cap_s=10.0)
"""``wait``: polls from every second, slowing to every 10 s (sessions take minutes)."""


# --- shared plumbing ----------------------------------------------------------------------------


def settings_from_args(args):
    """Resolve settings, refuse an unusable credential (exit 3), print the backend notice on stderr."""
    resolved = settings_module.from_args(args)
    require_credential(resolved)
    notice(resolved.describe())
    return resolved


@contextmanager
def client_from_args(args, resolved=None):
    """A blocking Skaha client for the command's settings; its progress notices go to stderr."""
    client = open_sync(resolved or settings_from_args(args), progress=notice)
    try:
        yield client
    finally:
        client.close()


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _number(value, digits=2) -> str:
    return "-" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _usage(in_use, requested) -> str:
    return f"{_number(in_use)}/{_number(requested)}"


def _when(session: Session) -> str:
    return session.start_time.strftime("%m-%d %H:%M:%S") if session.start_time else "-"


def _report(ids: list[str], failures: dict[str, SrcnetError], done_verb: str) -> int:
    """Print ``done_verb ID`` for each success and one error line per failure; exit code of the first."""
    code = 0
    for session_id in ids:
        error = failures.get(session_id)
        if error is not None:
            stderr.print(f"error: {error}", highlight=False, markup=False)
            code = code or error.exit_code
        else:
            stdout.print(f"{done_verb} {session_id}", highlight=False)
    return code


# --- sessions / info ----------------------------------------------------------------------------


def short_image(image: str) -> str:
    """Drop the registry host, which is the same for every image a platform accepts."""
    return image.split("/", 1)[1] if image.count("/") >= 2 else image


def sessions_table(sessions: list[Session], sites: list[str] | None = None) -> Table:
    """The sessions as a table; ``sites`` (one per session) adds a SITE column."""
    table = Table(header_style="bold")
    columns = ("ID", "NAME", "STATUS", "IMAGE", "STARTED UTC", "CPU use/req", "RAM GiB use/req")
    for column in ("SITE", *columns) if sites is not None else columns:
        table.add_column(
            column,
            no_wrap=column in ("SITE", "ID", "STATUS", "STARTED UTC"),
            overflow="fold",
            min_width=22 if column == "IMAGE" else None,
        )
    for i, s in enumerate(sessions):
        table.add_row(
            *([sites[i]] if sites is not None else []),
            s.id,
            s.name,
            status_text(s.status),
            short_image(s.image),
            _when(s),
            _usage(s.cores_in_use, s.requested_cores),
            _usage(s.ram_in_use_gib, s.requested_ram_gib),
        )
    return table


def _sort_key(session: Session):
    return (session.start_time is None, session.start_time or 0, session.name, session.id)


def _no_sessions_notice(args) -> None:
    notice("no sessions" if args.all else "no Pending or Running sessions (--all shows finished ones)")


def cmd_sessions(args) -> int:
    chosen = args.site_list or args.site
    if chosen and sites.is_several(chosen):
        return _sessions_of_sites(args, chosen)
    args.site = chosen
    with client_from_args(args) as client:
        found = client.list_sessions()
        reasons = client.pending_reasons(found)
        shown = sorted((s for s in found if args.all or s.is_active), key=_sort_key)
        flexible = _flexible(shown)
        allocations = _allocations(flexible, _context_or_none(client.context) if flexible else None)
    if args.json:
        print_json([_with_allocation(_with_reason(s.to_json(), reasons.get(s.id)), allocations.get(s.id)) for s in shown])
    elif shown:
        stdout.print(sessions_table(shown))
        for session in (s for s in shown if s.id in reasons):
            stdout.print(f"{session.id} ({session.name}) Pending: {reasons[session.id]}", highlight=False, markup=False)
        for session in (s for s in shown if s.id in allocations):
            stdout.print(f"{session.id} ({session.name}) {allocations[session.id].describe()}", highlight=False, markup=False)
    else:
        _no_sessions_notice(args)
    return 0


def _flexible(sessions: list[Session]) -> list[Session]:
    """Sessions launched without cores or RAM: their request is not their limit."""
    return [s for s in sessions if s.requested_cores is None or s.requested_ram_gb is None]


def _context_or_none(fetch: Callable[[], dict]) -> dict | None:
    """The site's ``/context`` (it says a flexible session's limit), or None with a notice when it cannot be read."""
    try:
        return fetch()
    except SrcnetError as exc:
        notice(f"context: {exc}; flexible sessions' limits not known")
        return None


def _allocations(flexible: list[Session], context: dict | None) -> dict[str, SessionAllocation]:
    """The request and limit of each flexible session, when the site's context is known."""
    if not flexible or context is None:
        return {}
    from srcnet_tui.core import accounting  # the ledger's modules: only when a flexible session is listed

    return {s.id: accounting.session_allocation(s, context) for s in flexible}


def _with_allocation(data: dict, allocation: SessionAllocation | None) -> dict:
    """``allocation`` (request and limit of cores and RAM, RAM in use of the limit) beside Skaha's fields, for flexible sessions."""
    return data if allocation is None else {**data, "allocation": allocation.to_json()}


def _with_own(session: Session, listing: list[Session]) -> list[Session]:
    """``session`` first, then the user's other sessions (what a reason weighs it against)."""
    return [session, *(s for s in listing if s.id != session.id)]


def _with_reason(data: dict, reason: str | None) -> dict:
    """``pendingReason`` (the client's estimate) beside Skaha's fields, for Pending sessions."""
    return data if reason is None else {**data, "pendingReason": reason}


def _sites_to_ask(args, chosen: str) -> tuple[list[settings_module.Settings], dict[str, SrcnetError]]:
    """Settings for each site ``chosen`` names, and the sites that cannot be reached as configured
    (under ``all``, a site without a usable credential is skipped with a notice, not an error)."""
    if args.backend or args.url or args.token or args.cert:
        raise UsageError(
            "--site: several sites are reached with their own url and credential; drop --backend/--url/--token/--cert"
        )
    targets = site_settings(chosen, args.state_dir)
    if chosen.strip().lower() != sites.ALL:
        return targets.reachable, targets.broken | targets.credential_errors()
    for name, problem in targets.uncredentialed.items():
        notice(f"site {name}: skipped ({problem})")
    return targets.reachable, targets.broken


@dataclass(frozen=True)
class SiteListing:
    """One site's sessions, why its Pending ones wait, and its flexible ones' requests and limits."""

    sessions: list[Session]
    reasons: dict[str, str]
    allocations: dict[str, SessionAllocation]


async def _site_listing(client: SkahaClient) -> SiteListing:
    sessions = await client.list_sessions()
    flexible = _flexible(sessions)
    context = None
    if flexible:
        with contextlib.suppress(SrcnetError):  # advisory: the listing stands without the limits
            context = await client.context()
    return SiteListing(sessions, await explain_pending(client, sessions), _allocations(flexible, context))


def _sessions_of_sites(args, chosen: str) -> int:
    """Every named site's sessions, asked concurrently; a site that fails is named on stderr, the others print."""
    reachable, refused = _sites_to_ask(args, chosen)
    notice(f"sites: {', '.join([s.site_name for s in reachable] + list(refused))}")
    answers = asyncio.run(multisite.ask_sites(reachable, _site_listing, args.timeout, notice))
    failures = refused | {a.site: a.error for a in answers if a.error is not None}
    reasons = {(a.site, i): why for a in answers if a.value for i, why in a.value.reasons.items()}
    allocations = {(a.site, i): alloc for a in answers if a.value for i, alloc in a.value.allocations.items()}
    rows = sorted(
        ((a.site, s) for a in answers if a.value for s in a.value.sessions if args.all or s.is_active),
        key=lambda row: (row[0], *_sort_key(row[1])),
    )
    for name, error in failures.items():
        stderr.print(f"error: site {name}: {error}", highlight=False, markup=False)
    if args.json:
        print_json(
            [
                {
                    **_with_allocation(_with_reason(s.to_json(), reasons.get((name, s.id))), allocations.get((name, s.id))),
                    "site": name,
                }
                for name, s in rows
            ]
        )
    elif rows:
        stdout.print(sessions_table([s for _, s in rows], [name for name, _ in rows]))
        for name, session in ((n, s) for n, s in rows if (n, s.id) in reasons):
            stdout.print(
                f"{name} {session.id} ({session.name}) Pending: {reasons[name, session.id]}", highlight=False, markup=False
            )
        for name, session in ((n, s) for n, s in rows if (n, s.id) in allocations):
            stdout.print(
                f"{name} {session.id} ({session.name}) {allocations[name, session.id].describe()}", highlight=False, markup=False
            )
    elif not failures:
        _no_sessions_notice(args)
    return next((error.exit_code for error in failures.values()), 0)


def cmd_info(args) -> int:
    with client_from_args(args) as client:
        session = client.get(args.id)
        reasons = client.pending_reasons(_with_own(session, client.list_sessions())) if session.status == PENDING else {}
    fields = _with_reason(session.to_json(), reasons.get(session.id))
    if args.json:
        print_json(fields)
        return 0
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in fields.items():
        shown = status_text(value) if key == "status" else ("-" if value is None else str(value))
        table.add_row(key, shown)
    stdout.print(table)
    return 0


# --- launch -------------------------------------------------------------------------------------


def parse_env(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` items into a dict; one line naming the malformed item otherwise."""
    env = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def cmd_launch(args) -> int:
    workload = list(args.workload or [])
    spec = LaunchSpec(
        name=args.name,
        image=args.image,
        cmd=workload[0] if workload else None,
        args=workload[1:],
        env=parse_env(args.env),
        cores=args.cores,
        ram=args.ram,
        gpus=args.gpus,
        replicas=args.replicas,
    )
    validate_spec(spec, check_image=False)  # the user's mistakes first, before any server is started
    with client_from_args(args) as client:
        ids = client.create(spec)
    sys.stdout.write("".join(f"{i}\n" for i in ids))
    sys.stdout.flush()
    return 0


# --- logs / events ------------------------------------------------------------------------------


class _LogPrinter:
    """Prints only what is new in a log that the server always returns whole; complete lines only."""

    def __init__(self):
        self.offset = 0

    def feed(self, text: str, final: bool = False) -> bool:
        fresh, self.offset = new_text(text, self.offset, final)
        if fresh:
            sys.stdout.write(fresh)
            sys.stdout.flush()
        return bool(fresh)


def _logs_so_far(client: SyncSkaha, session_id: str) -> str:
    """The log, or nothing yet when the session exists but its process does not (Pending)."""
    try:
        return client.logs(session_id)
    except NotFound:
        return ""


def follow_logs(client: SyncSkaha, session_id: str, give_up_s: float = 600.0) -> Session:
    """Print new log lines until the session ends; survives transient trouble for ``give_up_s``."""
    printer = _LogPrinter()
    quiet_rounds, trouble_since = 0, None
    while True:
        try:
            session = client.get(session_id)
            text = _logs_so_far(client, session_id)
        except Unreachable as exc:
            trouble_since = trouble_since or time.monotonic()
            if time.monotonic() - trouble_since > give_up_s:
                raise
            notice(f"lost contact ({exc}); still following {session_id}")
            time.sleep(FOLLOW_POLL.cap_s)
            continue
        trouble_since = None
        if session.is_terminal:
            printer.feed(text, final=True)
            return session
        quiet_rounds = 0 if printer.feed(text) else quiet_rounds + 1
        time.sleep(FOLLOW_POLL.pause(quiet_rounds))


def cmd_logs(args) -> int:
    with client_from_args(args) as client:
        if not args.follow:
            sys.stdout.write(client.logs(args.id))
            sys.stdout.flush()
            return 0
        client.get(args.id)  # an unknown id is the user's mistake (exit 2), not a vanished session
        try:
            session = follow_logs(client, args.id)
        except NotFound:
            raise TaskFailed(f"session {args.id}: vanished while being followed") from None
    notice(f"session {args.id}: {session.status}")
    return 0


def _events_text(client: SyncSkaha, session_id: str) -> str:
    """Skaha answers 404 for events until the session's pod exists; that is "no events yet"."""
    try:
        return client.events(session_id)
    except NotFound:
        client.get(session_id)  # raises NotFound when the session itself is unknown
        return ""


def cmd_events(args) -> int:
    with client_from_args(args) as client:
        events = parse_events(_events_text(client, args.id))
    if args.json:
        print_json(events)
    elif not events:
        notice(f"session {args.id}: no events")
    else:
        table = Table(header_style="bold", box=None, pad_edge=False)
        for column in ("TYPE", "REASON", "MESSAGE", "FIRST-TIME", "LAST-TIME"):
            table.add_column(column, no_wrap=column != "MESSAGE", overflow="fold")
        for event in events:
            table.add_row(*event.values())
        stdout.print(table)
    return 0


# --- wait ---------------------------------------------------------------------------------------


class WaitProgress:
    """How ``wait`` shows its sessions by status and the time waited: a live rich line on a terminal,
    a plain line on stderr whenever the counts change otherwise (a log or a pipe)."""

    def __init__(self, total: int):
        self.started = time.monotonic()
        self.last = ""
        self.progress: Progress | None = None
        if stderr.is_terminal:
            self.progress = Progress(
                TextColumn("wait"), BarColumn(bar_width=20), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(), console=stderr, refresh_per_second=4, transient=True,
            )  # fmt: skip
            self.bar = self.progress.add_task("wait", total=total, counts="")
            self.progress.start()

    def __enter__(self) -> WaitProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def show(self, statuses: dict[str, str]) -> None:
        """``statuses``: each waited-for session's latest status."""
        counts = Counter(statuses.values())
        order = [*STATUSES, *sorted(set(counts) - set(STATUSES))]
        text = ", ".join(f"{counts[status]} {status}" for status in order if counts[status])
        ended = sum(counts[status] for status in (COMPLETED, FAILED, "unknown"))
        if self.progress is not None:
            self.progress.update(self.bar, completed=ended, counts=text)
        elif text != self.last:
            notice(f"wait: {text} ({time.monotonic() - self.started:.0f} s)")
        self.last = text


def wait_for(
    client: SyncSkaha, ids: list[str], timeout_s: float | None, show: Callable[[dict[str, str]], None] | None = None
) -> dict[str, str]:
    """Poll until every session is Completed or Failed; maps id -> final status (``unknown`` if it vanished).

    An id never seen raises :class:`NotFound`; a timeout raises :class:`TaskFailed` naming the rest.
    ``show`` is given every session's latest status after each poll.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    final: dict[str, str] = {}
    seen: set[str] = set()
    rounds = 0
    latest: dict[str, str] = {}
    while True:
        listed = {s.id: s for s in client.list_sessions()}
        for session_id in ids:
            if session_id in final:
                continue
            session = listed.get(session_id) or _get_or_none(client, session_id)
            latest[session_id] = session.status if session else "unknown"
            if session is None:
                if session_id not in seen:
                    raise NotFound(f"session {session_id} not found")
                final[session_id] = "unknown"
                stderr.print(
                    f"session {session_id}: vanished before its end was seen (status unknown)", highlight=False, markup=False
                )
            elif session.is_terminal:
                final[session_id] = session.status
            seen.add(session_id)
        if show is not None:
            show(latest)
        if len(final) == len(ids):
            return final
        if rounds == 0:
            notice(f"waiting for {len(ids) - len(final)} session(s): {', '.join(i for i in ids if i not in final)}")
        left = math.inf if deadline is None else deadline - time.monotonic()
        if left <= 0:
            rest = ", ".join(i for i in ids if i not in final)
            raise TaskFailed(f"wait: timed out after {timeout_s:g} s; not finished: {rest}")
        time.sleep(min(WAIT_POLL.pause(rounds), left))  # the last poll happens at the deadline itself
        rounds += 1


def _get_or_none(client: SyncSkaha, session_id: str) -> Session | None:
    try:
        return client.get(session_id)
    except NotFound:
        return None


def cmd_wait(args) -> int:
    ids = list(dict.fromkeys(args.ids))
    with client_from_args(args) as client, WaitProgress(len(ids)) as progress:
        final = wait_for(client, ids, args.timeout, progress.show)
    for session_id, status in final.items():
        stdout.print(f"{session_id} {status_text(status)}", highlight=False)
    return 0 if all(status == COMPLETED for status in final.values()) else 1


# --- delete / renew -----------------------------------------------------------------------------


def _require_terminal(args) -> None:
    """Asking needs a terminal; without one (a script, cron) only ``--yes`` deletes."""
    if not args.yes and not sys.stdin.isatty():
        raise UsageError("delete: not on a terminal, so cannot ask; add --yes to delete without asking")


def _confirmed(args, ids: list[str]) -> bool:
    if args.yes:
        return True
    named = ", ".join(ids) if len(ids) <= 10 else f"{', '.join(ids[:10])} and {len(ids) - 10} more"
    sys.stderr.write(f"Delete {len(ids)} session(s): {named}? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _require_known(client: SyncSkaha, ids: list[str]) -> None:
    """Skaha answers DELETE with 200 even for unknown ids, so name unknown ones before deleting."""
    listed = {s.id for s in client.list_sessions()}
    for session_id in ids:
        if session_id not in listed:
            client.get(session_id)


@dataclass(frozen=True)
class Selection:
    """Which sessions ``delete --name-prefix/--pattern/--status`` means: every condition given must hold."""

    prefix: str | None = None
    pattern: re.Pattern[str] | None = None
    statuses: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.prefix or self.pattern or self.statuses)

    def matches(self, session: Session) -> bool:
        return (
            (self.prefix is None or session.name.lower().startswith(self.prefix.lower()))
            and (self.pattern is None or self.pattern.search(session.name) is not None)
            and (not self.statuses or session.status in self.statuses)
        )


def selection_from_args(args) -> Selection:
    """The selection the flags describe; one line naming the flag when one is malformed."""
    try:
        pattern = re.compile(args.pattern) if args.pattern else None
    except re.error as exc:
        raise UsageError(f"--pattern {args.pattern!r}: not a regular expression ({exc})") from None
    by_lower = {status.lower(): status for status in STATUSES}
    statuses = set()
    for item in (part.strip() for part in (args.status or "").split(",") if part.strip()):
        if item.lower() not in by_lower:
            raise UsageError(f"--status {item!r}: must be one of {', '.join(STATUSES)}")
        statuses.add(by_lower[item.lower()])
    return Selection(args.name_prefix or None, pattern, frozenset(statuses))


def _delete_selected(args, resolved, selection: Selection) -> int:
    with client_from_args(args, resolved) as client:
        chosen = sorted((s for s in client.list_sessions() if selection.matches(s)), key=_sort_key)
        if not chosen:
            notice("delete: no session matches")
            return 0
        stderr.print(sessions_table(chosen))
        ids = [s.id for s in chosen]
        if not _confirmed(args, ids):
            notice("nothing deleted")
            return 0
        return _report(ids, client.delete_all(ids), "deleted")


def cmd_delete(args) -> int:
    ids = list(dict.fromkeys(args.ids))
    selection = selection_from_args(args)
    if bool(ids) == bool(selection):
        raise UsageError("delete: give session ids, or choose sessions with --name-prefix, --pattern or --status (not both)")
    _require_terminal(args)
    resolved = settings_from_args(args)
    if selection:
        return _delete_selected(args, resolved, selection)
    if not _confirmed(args, ids):
        notice("nothing deleted")
        return 0
    with client_from_args(args, resolved) as client:
        _require_known(client, ids)
        return _report(ids, client.delete_all(ids), "deleted")


def cmd_renew(args) -> int:
    ids = list(dict.fromkeys(args.ids))
    with client_from_args(args) as client:
        return _report(ids, client.renew_all(ids), "renewed")


# --- stats / images / context -------------------------------------------------------------------


def _flatten(data, prefix="") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in _flatten(value, f"{prefix}{key}.")]
    if isinstance(data, list):
        return [(prefix.rstrip("."), ", ".join(str(v) for v in data))]
    return [(prefix.rstrip("."), str(data))]


def _key_value_table(data) -> Table:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in _flatten(data):
        table.add_row(key, value)
    return table


def _show_document(args, fetch) -> int:
    """A platform document (stats, context) as JSON or as a key/value table."""
    with client_from_args(args) as client:
        data = fetch(client)
    if args.json:
        print_json(data)
    else:
        stdout.print(_key_value_table(data))
    return 0


def cmd_stats(args) -> int:
    return _show_document(args, lambda client: client.stats())


def cmd_context(args) -> int:
    return _show_document(args, lambda client: client.context())


def cmd_images(args) -> int:
    with client_from_args(args) as client:
        images = client.images(args.type)
    if args.json:
        print_json(images)
        return 0
    table = Table(header_style="bold")
    table.add_column("IMAGE")
    table.add_column("TYPES")
    for image in sorted(images, key=lambda i: str(i.get("id"))):
        table.add_row(str(image.get("id", "")), ", ".join(sorted(map(str, image.get("types") or []))))
    stdout.print(table)
    return 0


# --- registration -------------------------------------------------------------------------------


def _number_argument(convert, minimum, what):
    """An argparse type: ``convert(text)`` at least ``minimum``, with a one-line complaint otherwise."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


_positive = _number_argument(int, 1, "a positive whole number")
seconds_argument = _number_argument(float, 0, "a number of seconds")


def register(subparsers) -> None:
    def command(name, handler, help_text, *, json_flag=False):
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(handler=handler)
        if json_flag:
            parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        return parser

    p = command("sessions", cmd_sessions, "list sessions (Pending and Running; --all adds finished ones)", json_flag=True)
    p.add_argument("--all", action="store_true", help="include Completed and Failed sessions")
    p.add_argument(
        "--site",
        dest="site_list",
        metavar="all|NAME[,NAME]",
        help="sessions of several sites, asked concurrently (a SITE column)",
    )
    p.add_argument(
        "--timeout",
        type=seconds_argument,
        default=sites.SITE_TIMEOUT_S,
        help=f"with several sites: how long each may take to answer (default {sites.SITE_TIMEOUT_S:g} s)",
    )

    p = command("launch", cmd_launch, "launch headless session(s) running `-- CMD [ARG ...]`; prints the new ids")
    p.add_argument("--name", required=True, help="session name (letters, digits, '-')")
    p.add_argument("--image", required=True, help="container image, e.g. images.canfar.net/skaha/terminal:1.1.2")
    p.add_argument("--cores", type=_positive, help="cores (omit for flexible)")
    p.add_argument("--ram", type=_positive, help="RAM in GiB (omit for flexible)")
    p.add_argument("--gpus", type=_positive, help="GPUs")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment variable (repeatable)")
    p.add_argument("--replicas", type=_positive, default=1, help="launch N sessions NAME-1..NAME-N")

    p = command("info", cmd_info, "show one session", json_flag=True)
    p.add_argument("id")

    p = command("logs", cmd_logs, "print a session's log (--follow: until it ends)")
    p.add_argument("id")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the session ends")

    p = command("events", cmd_events, "show a session's scheduling events", json_flag=True)
    p.add_argument("id")

    p = command("wait", cmd_wait, "wait until sessions end; exit 0 only if all Completed")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--timeout", type=seconds_argument, help="give up after S seconds (exit 1)")

    p = command("delete", cmd_delete, "delete sessions by id, or all that match (lists them and asks first unless --yes)")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--name-prefix", metavar="P", help="sessions whose name starts with P")
    p.add_argument("--pattern", metavar="REGEX", help="sessions whose name matches REGEX (anywhere; anchor with ^ and $)")
    p.add_argument("--status", metavar="S,...", help=f"sessions in these statuses ({', '.join(STATUSES)})")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")

    p = command("renew", cmd_renew, "extend sessions' expiry")
    p.add_argument("ids", nargs="+", metavar="ID")

    command("stats", cmd_stats, "platform load: cores and RAM requested and available", json_flag=True)
    p = command("images", cmd_images, "images that can be launched", json_flag=True)
    p.add_argument("--type", help="only images of this session type (e.g. headless)")
    command("context", cmd_context, "resource choices offered (cores, RAM, GPUs)", json_flag=True)
