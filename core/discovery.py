"""Find Skaha services in an IVOA registry: its ``resource-caps``, then each service's capabilities document.

This is what the canfar client does for ``server ls`` (reference/skaha-api.md §1, registry discovery).
cadcutils has a registry client, but it is blocking (requests), caches under ``~/.config/cadc-cache``
and is tied to CADC's registry host; the two formats are small, so they are read here over async httpx,
every service concurrently and within a bounded time, from any registry (CADC's, SRCNet's, a mirror,
or one on loopback). What is found can be added to the config file as ``[sites.NAME]`` tables.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from srcnet_tui.core import sites
from srcnet_tui.core.errors import SrcnetError, Unreachable, UsageError
from srcnet_tui.core.sites import Site

SESSION_CAPABILITY = re.compile(r"http://www\.opencadc\.org/std/platform#session-(\d+)")
SECURITY_METHODS = {"ivo://ivoa.net/sso#token": "token", "ivo://ivoa.net/sso#tls-with-certificate": "cert"}
DISCOVERY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Found:
    """One Skaha service a registry lists: its v1 base URL and credential kinds, or why it cannot be used."""

    name: str
    uri: str
    capabilities_url: str
    url: str | None = None
    credentials: tuple[str, ...] = ()
    known_as: str | None = None
    problem: str | None = None

    def to_json(self) -> dict:
        return {
            "site": self.name,
            "uri": self.uri,
            "capabilities": self.capabilities_url,
            "url": self.url,
            "storage_root": sites.CAVERN if self.known_as is None else None,
            "credentials": list(self.credentials),
            "known_as": self.known_as,
            "problem": self.problem,
        }


def registry_url(url: str) -> str:
    """The ``resource-caps`` document of a registry given by its own URL or its base."""
    text = url.strip()
    return text if text.rstrip("/").endswith("/resource-caps") else text.rstrip("/") + "/resource-caps"


def parse_resource_caps(text: str) -> list[tuple[str, str]]:
    """``(ivo URI, capabilities URL)`` of each Skaha service: ``uri = url`` lines, ``#`` comments."""
    found = []
    for line in text.splitlines():
        uri, sep, url = line.split("#", 1)[0].partition("=")
        uri, url = uri.strip(), url.strip()
        if sep and uri.rstrip("/").endswith("/skaha") and url.rstrip("/").endswith("/skaha/capabilities"):
            found.append((uri, url))
    return found


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_capabilities(text: str) -> tuple[str, tuple[str, ...]]:
    """The v1 (newest) session base URL, e.g. ``https://host/skaha/v1``, and the credential kinds it takes.

    Raises ValueError when the document is not XML or names no session capability.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not a capabilities document ({exc})") from None
    best: tuple[int, str, tuple[str, ...]] | None = None
    for capability in (e for e in root.iter() if _local_name(e.tag) == "capability"):
        match = SESSION_CAPABILITY.fullmatch(capability.get("standardID", "").strip())
        if match is None:
            continue
        for interface in (e for e in capability if _local_name(e.tag) == "interface"):
            access = next((e for e in interface if _local_name(e.tag) == "accessURL"), None)
            if access is None or not (access.text or "").strip():
                continue
            kinds = tuple(
                SECURITY_METHODS[m.get("standardID", "")]
                for m in interface
                if _local_name(m.tag) == "securityMethod" and m.get("standardID", "") in SECURITY_METHODS
            )
            version = int(match.group(1))
            if best is None or version > best[0]:
                best = (version, (access.text or "").strip(), kinds)
    if best is None:
        raise ValueError("names no Skaha session capability (http://www.opencadc.org/std/platform#session-N)")
    version, access_url, kinds = best
    base = re.sub(rf"/v{version}/session/?$", "", access_url.rstrip("/"))
    return f"{base.removesuffix('/session')}/v{version}", kinds


def _name_from(uri: str, url: str | None) -> str:
    """A site name for a service the user has not named: the URI's path before ``/skaha``, else its authority."""
    parts = urlsplit(uri)
    segments = [s for s in parts.path.split("/") if s and s != "skaha"]
    raw = segments[-1] if segments else (parts.netloc or urlsplit(url or "").hostname or "site").split(".")[0]
    name = re.sub(r"[^a-z0-9_-]", "-", raw.lower()).strip("-") or "site"
    return name if name[0].isalpha() else f"site-{name}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken or candidate == sites.ALL:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


async def _get(client: httpx.AsyncClient, url: str) -> str:
    try:
        response = await client.get(url, headers={"Accept": "application/xml, text/plain"})
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url}: no answer ({type(exc).__name__})") from None
    if not response.is_success:
        problem = UsageError if response.status_code < 500 else SrcnetError  # a wrong URL, or the server's trouble
        raise problem(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
    return response.text


async def discover(registry: str, known: dict[str, Site], timeout_s: float = DISCOVERY_TIMEOUT_S) -> list[Found]:
    """Every Skaha service ``registry`` lists, each read concurrently; known ones carry their site's name."""
    caps_url = registry_url(registry)
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True, trust_env=not _is_loopback(caps_url)) as client:
        listed = parse_resource_caps(await _get(client, caps_url))
        if not listed:
            raise UsageError(f"{caps_url}: lists no Skaha service (no 'ivo://.../skaha = .../skaha/capabilities' line)")
        read = await asyncio.gather(*(_capabilities_of(client, uri, url) for uri, url in listed))
    taken = set(known)
    found = []
    for uri, capabilities_url, url, kinds, problem in read:
        same = sites.matching_url(known, url)
        name = same.name if same else _unique(_name_from(uri, url), taken)
        found.append(Found(name, uri, capabilities_url, url, kinds, same.name if same else None, problem))
    return found


async def _capabilities_of(
    client: httpx.AsyncClient, uri: str, capabilities_url: str
) -> tuple[str, str, str | None, tuple[str, ...], str | None]:
    """``(uri, capabilities URL, base URL, credential kinds, problem)`` of one service."""
    try:
        url, kinds = parse_capabilities(await _get(client, capabilities_url))
    except ValueError as exc:
        return uri, capabilities_url, None, (), f"{capabilities_url}: {exc}"
    except SrcnetError as exc:
        return uri, capabilities_url, None, (), str(exc)
    return uri, capabilities_url, url, kinds, None


def site_tables(found: list[Found]) -> str:
    """TOML ``[sites.NAME]`` tables for the usable services not already known."""
    blocks = []
    for service in found:
        if service.url and service.known_as is None:
            blocks.append(f"[sites.{service.name}]\nurl = {json.dumps(service.url)}\nstorage_root = {json.dumps(sites.CAVERN)}\n")
    return "\n".join(blocks)


def save_sites(config: Path, found: list[Found]) -> list[Found]:
    """Append the new sites to ``config`` (atomically, checked to parse first); the services added."""
    added = [f for f in found if f.url and f.known_as is None]
    if not added:
        return []
    old = config.read_text() if config.exists() else ""
    new = old + ("\n" if old and not old.endswith("\n") else "") + ("\n" if old else "") + site_tables(added)
    try:
        sites.known_sites(tomllib.loads(new).get("sites"), config)
    except (tomllib.TOMLDecodeError, UsageError) as exc:
        raise UsageError(f"{config}: adding the discovered sites would break the file ({exc}); nothing written") from None
    config.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=config.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(new)
        if config.exists():
            os.chmod(temp, config.stat().st_mode & 0o777)
        os.replace(temp, config)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return added
