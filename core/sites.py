"""Every Skaha a user can reach — CANFAR, the SRCNet nodes, this machine — known by a name.

SRCNet runs the same science platform at many nodes, each with its own URL, credential and storage
root (reference/platform-2026.md §2): ``/arc`` exists only on CANFAR, the SRCNet nodes have
``/cavern``. Built-in entries cover the sites of that table (limits are never assumed: each site's
``/context`` says them); ``[sites.NAME]`` tables of the config file add sites or complete the
built-in ones (a token file for canSRC, say). ``local`` is the local backend, a site like the others;
``server_dir`` instead of ``url`` makes another local server (in that folder) a site of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from srcnet_tui.core.errors import UsageError

ARC = "/arc"
CAVERN = "/cavern"
STORAGE_ROOTS = (ARC, CAVERN)
LOCAL = "local"
CANFAR = "canfar"
ALL = "all"
"""``--site all``: every known site (only where a command can ask several at once)."""
CANFAR_URL = "https://ws-uv.canfar.net/skaha/v1"
SITE_TIMEOUT_S = 4.0
"""A site's whole answer when several are asked (connect, retries, reply); one's own session listing normally
takes well under a second. Here, not in :mod:`srcnet_tui.core.multisite`, so the TUI reads it without the HTTP client."""
SITE_KEYS = ("url", "server_dir", "storage_root", "vospace", "token", "token_file", "cert", "arc_maps_to")
"""What a ``[sites.NAME]`` table may hold (every value a string)."""
PATH_KEYS = ("server_dir", "token_file", "cert")
"""Keys naming files or folders of this machine, resolved against the config file's folder."""
SITE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
"""Site names, compared in lower case (``canSRC`` and ``cansrc`` are one site)."""


@dataclass(frozen=True)
class Site:
    """One place that runs sessions; ``url`` None is the local backend (its daemon knows its URL)."""

    name: str
    url: str | None = None
    storage_root: str = ARC
    vospace: str | None = None
    token: str | None = field(default=None, repr=False)  # never shown
    token_file: Path | None = None
    cert: Path | None = None
    arc_maps_to: str | None = None
    """Where ``/arc/...`` paths of a config go on a site without ``/arc`` (the user's explicit mapping)."""
    server_dir: Path | None = None
    """A local site's own server folder (its daemon, sessions and storage), instead of the state folder's:
    so two local servers on one machine are two sites."""
    origin: str = "built-in"

    @property
    def backend(self) -> str:
        return LOCAL if self.url is None else CANFAR

    @property
    def has_own_credential(self) -> bool:
        return bool(self.token or self.token_file or self.cert)

    def storage_path(self, path: str, key: str | None = None) -> str:
        """``path`` on this site's storage.

        A path under the site's root comes back unchanged; ``/arc/...`` (or ``arc:...``) on a site
        without ``/arc`` is mapped where the user asked for it (``arc_maps_to``) and refused with one
        line otherwise; a path under no storage root (a local file) is not a storage path and comes back
        unchanged. ``key`` names the config key in the error.
        """
        root, rest = split_storage_path(path)
        if root is None or root == self.storage_root:
            return path
        if root == ARC and self.arc_maps_to:
            return self.arc_maps_to.rstrip("/") + rest
        label = f"{key}: " if key else ""
        hint = f'; write {self.storage_root}/... or map it: arc_maps_to = "{self.storage_root}/..." in [sites.{self.name}]'
        raise UsageError(
            f"{label}{path!r} is under {root}, which site {self.name} does not have (its storage is {self.storage_root})"
            + (hint if root == ARC else ""),
            key=key,
        )


def split_storage_path(path: str) -> tuple[str | None, str]:
    """``("/arc", "/x/y")`` for ``/arc/x/y`` or ``arc:x/y``, ``("/cavern", ...)`` likewise; ``(None, path)``
    outside every storage root (a local file, say)."""
    text = path.strip()
    if text.startswith("arc:"):
        return ARC, "/" + text[len("arc:") :].lstrip("/")
    for root in STORAGE_ROOTS:
        if text == root or text.startswith(root + "/"):
            return root, text[len(root) :]
    return None, path


BUILTIN_SITES: tuple[Site, ...] = (
    Site(LOCAL, None, ARC),
    Site(CANFAR, CANFAR_URL, ARC, vospace="arc:"),
    Site("cansrc", "https://src.canfar.net/skaha/v1", CAVERN),
)
"""The sites of reference/platform-2026.md §2 whose URL is known; other SRCNet nodes come from
``sites --discover`` or the config file."""


def _site_from_table(name: str, table: object, path: Path, base: Site | None) -> Site:
    where = f"{path}: [sites.{name}]"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of keys ({', '.join(SITE_KEYS)})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in SITE_KEYS:
            raise UsageError(f"{where}: unknown key {key!r} (known: {', '.join(SITE_KEYS)})")
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{where}: {key} must be a non-empty string in quotes, not {value!r}")
        values[key] = value.strip()
    if values.get("storage_root", ARC) not in STORAGE_ROOTS:
        raise UsageError(f"{where}: storage_root must be one of {', '.join(STORAGE_ROOTS)}, not {values['storage_root']!r}")
    if not str(values.get("arc_maps_to", "/")).startswith("/"):
        raise UsageError(f"{where}: arc_maps_to must be an absolute path such as {CAVERN}/home/NAME")
    for key in PATH_KEYS:
        if key in values:
            values[key] = (path.parent / Path(str(values[key])).expanduser()).absolute()
    if base is None and "url" not in values and "server_dir" not in values:
        raise UsageError(
            f"{where}: url is required (the site's Skaha v1 base, e.g. https://HOST/skaha/v1), or server_dir for a local server"
        )
    start = base or (Site(name, None, ARC) if "server_dir" in values else Site(name, str(values.get("url")), CAVERN))
    site = replace(start, **values, origin=str(path))
    if site.url and site.server_dir:
        raise UsageError(f"{where}: server_dir is for a site played by a local server, and this one has a url")
    return site


def known_sites(tables: object, path: Path) -> dict[str, Site]:
    """The built-in sites, completed and extended by the ``sites`` tables of the config file at ``path``."""
    known = {site.name: site for site in BUILTIN_SITES}
    if tables is None:
        return known
    if not isinstance(tables, dict):
        raise UsageError(f"{path}: sites must be tables: [sites.NAME]")
    for raw_name, table in tables.items():
        name = str(raw_name).lower()
        if not SITE_NAME.fullmatch(name) or name == ALL:
            raise UsageError(f"{path}: [sites.{raw_name}]: a site name is a letter then letters, digits, '-' or '_' (not 'all')")
        if name == LOCAL and isinstance(table, dict) and "url" in table:
            raise UsageError(f"{path}: [sites.local]: the local site has no url (its daemon chooses one)")
        known[name] = _site_from_table(name, table, path, known.get(name))
    return known


def lookup(known: dict[str, Site], name: str) -> Site:
    """The site called ``name`` (any case), or one line listing the known ones."""
    found = known.get(name.strip().lower())
    if found is None:
        raise UsageError(f"--site: no site {name!r} (known: {', '.join(known)}; add [sites.{name}] to the config file)")
    return found


def is_several(text: str) -> bool:
    """Whether ``--site`` names several sites (``all`` or a comma list)."""
    return text.strip().lower() == ALL or "," in text


def several(known: dict[str, Site], text: str) -> list[Site]:
    """The sites ``all`` or ``a,b`` names, each once, in the order given (``all``: every known site)."""
    if text.strip().lower() == ALL:
        return list(known.values())
    names = [part for part in (p.strip() for p in text.split(",")) if part]
    if not names:
        raise UsageError(f"--site: {text!r} names no site")
    return list({site.name: site for site in (lookup(known, n) for n in names)}.values())


def matching_url(known: dict[str, Site], url: str | None) -> Site | None:
    """The known site served at ``url`` (so ``--url`` of a known site is that site)."""
    wanted = (url or "").rstrip("/")
    return next((site for site in known.values() if site.url and site.url.rstrip("/") == wanted), None)
