"""The ``sites`` command: every site the user can name, its credential and whether it answers; discovery.

Each site is checked concurrently within a bounded time (:mod:`srcnet_tui.core.multisite`): its
credential is inspected on this machine (kind and expiry, never the credential itself) and its
unauthenticated VOSI availability is asked, so listing sites sends no credential anywhere. The local
site is only looked at, never started. ``--discover`` reads a registry (:mod:`srcnet_tui.core.discovery`)
and prints what it lists; ``--save`` adds the new sites to the config file.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from rich.table import Table

from srcnet_tui.core import discovery, multisite, sites
from srcnet_tui.core import settings as settings_module
from srcnet_tui.core.cli.output import notice, print_json, stdout
from srcnet_tui.core.cli.sessions import seconds_argument
from srcnet_tui.core.connect import Target
from srcnet_tui.core.credentials import CredentialStatus, credential_status
from srcnet_tui.core.errors import SrcnetError
from srcnet_tui.core.models import format_time
from srcnet_tui.core.sites import Site

AVAILABLE = re.compile(r"<(?:\w+:)?available>\s*true\s*<", re.IGNORECASE)
"""VOSI availability saying yes."""


@dataclass(frozen=True)
class SiteCheck:
    """What ``sites`` says of one site."""

    site: Site
    url: str | None
    credential: CredentialStatus
    answers: bool
    detail: str
    seconds: float | None = None

    def to_json(self) -> dict:
        return {
            "site": self.site.name,
            "url": self.url,
            "storage_root": self.site.storage_root,
            "vospace": self.site.vospace,
            "arc_maps_to": self.site.arc_maps_to,
            "origin": self.site.origin,
            "credential": self.credential.kind,
            "expires": format_time(self.credential.expires_at),
            "seconds_left": None if self.credential.seconds_left is None else round(self.credential.seconds_left),
            "credential_problem": self.credential.problem,
            "answers": self.answers,
            "answer_ms": None if self.seconds is None else round(self.seconds * 1000),
            "detail": self.detail,
        }


def _credential(site: Site, state_dir: str | None) -> tuple[str | None, CredentialStatus]:
    """The URL the site is reached at and its credential's status (a token file that cannot be read is a problem)."""
    try:
        resolved = settings_module.resolve(state_dir=state_dir, site=site.name)
    except SrcnetError as exc:
        return site.url, CredentialStatus("token" if site.token_file else "none", problem=str(exc))
    return resolved.url, credential_status(resolved)


def _local_url(site: Site, state_dir: str | None) -> str | None:
    """The site's running local server's URL, or None when it is not running (it is never started here)."""
    from srcnet_tui.core.local.service import read_server_file

    info = read_server_file(site.server_dir or settings_module.resolve(backend="local", state_dir=state_dir).state_dir)
    return str(info["url"]) if info else None


async def _answers(url: str, timeout_s: float) -> tuple[bool, str, float]:
    """Whether the service at ``url`` says it is available, within ``timeout_s``, asked without a credential."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s), multisite.bounded_client(Target(url), timeout_s) as client:
            text = await client.availability()
    except TimeoutError:
        return False, f"no answer within {timeout_s:g} s", time.monotonic() - started
    except SrcnetError as exc:
        return False, str(exc), time.monotonic() - started
    available = AVAILABLE.search(text) is not None
    return available, "available" if available else "says it is not available", time.monotonic() - started


async def check_site(site: Site, state_dir: str | None, timeout_s: float) -> SiteCheck:
    if site.backend == sites.LOCAL:
        url = await multisite.in_daemon_thread(_local_url, site, state_dir)
        credential = CredentialStatus("local")
        if url is None:
            return SiteCheck(site, None, credential, False, "not running (starts on first use)")
    else:
        url, credential = _credential(site, state_dir)
    if url is None:
        return SiteCheck(site, None, credential, False, "no url")
    answers, detail, seconds = await _answers(url, timeout_s)
    return SiteCheck(site, url, credential, answers, detail, seconds)


async def check_sites(chosen: list[Site], state_dir: str | None, timeout_s: float) -> list[SiteCheck]:
    """:func:`check_site` for every site concurrently, in the order given."""
    return list(await asyncio.gather(*(check_site(site, state_dir, timeout_s) for site in chosen)))


def _expiry(status: CredentialStatus) -> str:
    if status.expires_at is None:
        return "-"
    return f"{status.expires_at:%Y-%m-%d %H:%M}" + (" (expired)" if status.seconds_left == 0 else "")


def _sites_table(checks: list[SiteCheck]) -> Table:
    table = Table(header_style="bold")
    for column in ("SITE", "URL", "STORAGE", "CREDENTIAL", "EXPIRES UTC", "ANSWERS"):
        table.add_column(column, no_wrap=column != "URL", overflow="fold")
    for check in checks:
        answered = f"yes ({check.seconds * 1000:.0f} ms)" if check.seconds is not None else "yes"
        table.add_row(
            check.site.name,
            check.url or "local server",
            check.site.storage_root,
            check.credential.kind + (" (unusable)" if check.credential.problem and check.credential.kind != "none" else ""),
            _expiry(check.credential),
            answered if check.answers else "no",
        )
    return table


def _notes(checks: list[SiteCheck]) -> list[str]:
    """What the table cannot say in a word: unusable credentials and why a site did not answer."""
    notes = [f"{c.site.name}: {c.credential.problem}" for c in checks if c.credential.problem]
    return notes + [f"{c.site.name}: {c.detail}" for c in checks if not c.answers]


def cmd_sites(args) -> int:
    if args.discover:
        return _discover(args)
    known = settings_module.known_sites()
    chosen = [sites.lookup(known, name) for name in args.names] if args.names else list(known.values())
    checks = asyncio.run(check_sites(chosen, args.state_dir, args.timeout))
    if args.json:
        print_json([check.to_json() for check in checks])
    else:
        stdout.print(_sites_table(checks))
        for line in _notes(checks):
            notice(line)
    return 0


def _discover(args) -> int:
    found = asyncio.run(discovery.discover(args.discover, settings_module.known_sites(), args.timeout))
    added = discovery.save_sites(settings_module.config_file(), found) if args.save else []
    if args.json:
        print_json([{**f.to_json(), "saved": f in added} for f in found])
    else:
        table = Table(header_style="bold")
        for column in ("SITE", "URL", "CREDENTIALS", "FROM"):
            table.add_column(column, overflow="fold")
        for f in found:
            state = f.problem or (f"known as {f.known_as}" if f.known_as else f.uri)
            table.add_row(f.name, f.url or "-", ", ".join(f.credentials) or "-", state)
        stdout.print(table)
    if added:
        notice(f"added {len(added)} site(s) to {settings_module.config_file()}: {', '.join(f.name for f in added)}")
    elif not args.save and any(f.url and f.known_as is None for f in found):
        notice(
            "not saved: add --save to write the new sites to the config file, or copy these tables:\n"
            + discovery.site_tables(found)
        )
    return 0


def register(subparsers) -> None:
    help_text = "the sites you can use: credential and its expiry, whether each answers; --discover reads a registry"
    p = subparsers.add_parser("sites", help=help_text, description=help_text)
    p.set_defaults(handler=cmd_sites)
    p.add_argument("names", nargs="*", metavar="NAME", help="only these sites (default: every known site)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--timeout", type=seconds_argument, default=sites.SITE_TIMEOUT_S, help="how long each site may take to answer")
    p.add_argument("--discover", metavar="REGISTRY_URL", help="list the Skaha services of an IVOA registry (its resource-caps)")
    p.add_argument("--save", action="store_true", help="with --discover: add the new sites to the config file")
