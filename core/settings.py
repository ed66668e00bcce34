"""Which platform to talk to, with which credential, keeping state where.

Resolution order for every setting: command-line flag > environment > config file > default.
The config file is ``$XDG_CONFIG_HOME/srcnet-tui/config.toml`` (keys: backend, url, token, cert,
state_dir, site, and ``[sites.NAME]`` tables: :mod:`srcnet_tui.core.sites`). The default backend is
``canfar`` when a CANFAR credential is found (a token, or the CADC proxy certificate at
``~/.ssl/cadcproxy.pem``), otherwise ``local``.

A site (``--site NAME``, ``SRCNET_SITE``, the ``site`` key) brings its own URL, storage root and
credential; ``--url``, ``--token`` and ``--cert`` flags still override them, and a site without a
credential of its own takes the usual token or certificate. ``--backend`` / ``--url`` without
``--site`` reach a place as before (and ignore a site named only by the environment or the file).
A site played by a local server of its own (``server_dir``) keeps its daemon and storage there; the
ledger stays in the state folder whatever the site (:attr:`Settings.local_server_dir`).
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from srcnet_tui.core import sites
from srcnet_tui.core.errors import AuthError, UsageError
from srcnet_tui.core.sites import CANFAR_URL, Site

BACKENDS = ("local", "canfar")


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or _home() / ".config"
    return Path(base) / "srcnet-tui" / "config.toml"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or _home() / ".local" / "state"
    return Path(base) / "srcnet-tui"


def default_cert() -> Path:
    return _home() / ".ssl" / "cadcproxy.pem"


@dataclass(frozen=True)
class Settings:
    """The resolved settings; ``url``/``token`` may be None for the local backend (the daemon knows)."""

    backend: str
    url: str | None
    token: str | None = field(repr=False)
    cert: Path | None
    state_dir: Path
    reason: str
    site: str = ""
    """The site's name (``local``, ``canfar`` or a configured SRCNet site); empty means the backend's name."""
    site_entry: Site | None = field(default=None, compare=False)
    """The site's entry (storage root, mapping), when the settings reach a known site."""

    @property
    def site_name(self) -> str:
        """The name runs record and are resumed at."""
        return self.site or self.backend

    @property
    def local_server_dir(self) -> Path:
        """The folder of the local server this reaches (its daemon, sessions and /arc): the state folder,
        unless the site is played by a local server of its own (``server_dir``). The ledger stays in ``state_dir``."""
        own = self.site_entry.server_dir if self.site_entry else None
        return own or self.state_dir

    @property
    def storage_root(self) -> str:
        """``/arc`` or ``/cavern``: where this site keeps users' files (``/arc`` for an unknown Skaha)."""
        return self.site_entry.storage_root if self.site_entry else sites.ARC

    def storage_path(self, path: str, key: str | None = None) -> str:
        """``path`` on this site's storage (see :meth:`srcnet_tui.core.sites.Site.storage_path`)."""
        entry = self.site_entry or Site(self.site_name, self.url, sites.ARC)
        return entry.storage_path(path, key)

    def describe(self) -> str:
        """One line for stderr / the TUI header; never includes the token or certificate content."""
        where = self.url or "local server"
        site = f"site {self.site}, " if self.site and self.site != self.backend else ""
        return f"backend: {self.backend} ({site}{where}; {self.reason})"


CONFIG_KEYS = ("backend", "url", "token", "cert", "state_dir", "site")
"""The flat keys of the config file; ``[sites.NAME]`` tables come beside them."""


def _read_config_file(path: Path) -> tuple[dict[str, str], dict[str, Site]]:
    """The flat keys, and every known site (built-in ones completed by the file's tables)."""
    if not path.exists():
        return {}, sites.known_sites(None, path)
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read config file: {exc}") from None
    tables = values.pop("sites", None)
    for key, value in values.items():
        if key not in CONFIG_KEYS:
            raise UsageError(f"{path}: unknown key {key!r} (known: {', '.join(CONFIG_KEYS)}, [sites.NAME])")
        if not isinstance(value, str):
            raise UsageError(f"{path}: {key} must be a string in quotes, not {value!r}")
    return values, sites.known_sites(tables, path)


def known_sites() -> dict[str, Site]:
    """Every site the user can name: built-in ones and the config file's ``[sites.NAME]``."""
    return _read_config_file(config_file())[1]


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def check_url(url: str, has_credential: bool) -> str:
    """Refuse a URL httpx cannot use, or one that would send a credential unencrypted off this machine."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        raise UsageError(f"url: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise UsageError(f"url: {url!r} must be an https:// URL such as {CANFAR_URL}")
    if parts.scheme == "http" and has_credential and not _is_loopback(host):
        raise UsageError(f"url: {url!r} would send the credential unencrypted; use https://")
    return url


def _first(*values):
    return next((v for v in values if v not in (None, "")), None)


def resolve(
    backend: str | None = None,
    url: str | None = None,
    token: str | None = None,
    cert: str | None = None,
    state_dir: str | None = None,
    environ: dict | None = None,
    site: str | None = None,
) -> Settings:
    """Resolve settings from flags (the arguments), the environment and the config file."""
    env = os.environ if environ is None else environ
    conf, known = _read_config_file(config_file())
    state = Path(_first(state_dir, env.get("SRCNET_STATE_DIR"), conf.get("state_dir")) or default_state_dir())
    state = state.expanduser().absolute()
    named, origin = _site_name(site, backend, url, env, conf)
    if named is not None:
        entry = sites.lookup(known, named)
        return _site_settings(entry, f"site from {origin}", backend, url, token, cert, state, env, conf)
    url = _first(url, env.get("SRCNET_URL"), env.get("CANFAR_URL"), conf.get("url"))
    token = _first(token, env.get("SRCNET_TOKEN"), env.get("CANFAR_TOKEN"), conf.get("token"))
    cert_path = _first(cert, env.get("CANFAR_CERTIFICATE"), conf.get("cert"))
    cert_file = Path(cert_path).expanduser() if cert_path else None
    chosen = _first(backend, env.get("SRCNET_BACKEND"), conf.get("backend"))
    if chosen is not None:
        if chosen not in BACKENDS:
            raise UsageError(f"backend: must be one of {', '.join(BACKENDS)}, not {chosen!r}")
        reason = "chosen"
    elif token or cert_file or (url and url != "local"):
        chosen, reason = "canfar", "CANFAR credential given"
    elif default_cert().is_file():
        chosen, reason, cert_file = "canfar", f"proxy certificate {default_cert()}", default_cert()
    else:
        chosen, reason = "local", "no CANFAR credential found"
    if chosen == "local":
        return Settings(chosen, url, token, cert_file, state, reason, site_entry=known[sites.LOCAL])
    url = check_url(url or CANFAR_URL, has_credential=bool(token or cert_file))
    if cert_file is None and token is None and default_cert().is_file():
        cert_file = default_cert()
    matched = sites.matching_url(known, url)
    return Settings(chosen, url, token, cert_file, state, reason, site=matched.name if matched else "", site_entry=matched)


def _site_name(site: str | None, backend: str | None, url: str | None, env, conf: dict[str, str]) -> tuple[str | None, str]:
    """The site asked for and where that was said: the flag, else (unless ``--backend``/``--url`` say where)
    SRCNET_SITE or the file's ``site``."""
    named, origin = _first(site), "--site"
    if named is None and backend is None and url is None:
        named, origin = (env.get("SRCNET_SITE"), "SRCNET_SITE") if env.get("SRCNET_SITE") else (conf.get("site"), "config file")
    if named and sites.is_several(named):
        raise UsageError(f"--site {named}: names several sites; only `sessions` lists several at once")
    return named or None, origin


def _site_settings(
    entry: Site, reason: str, backend: str | None, url: str | None, token: str | None, cert: str | None, state: Path, env, conf
) -> Settings:
    """Settings that reach ``entry``: its URL and credential, overridden by flags; else the usual credential."""
    if backend is not None and backend != entry.backend:
        raise UsageError(f"--backend {backend}: site {entry.name} is reached with --backend {entry.backend}")
    if entry.backend == sites.LOCAL:
        return Settings(sites.LOCAL, None, None, None, state, reason, site=entry.name, site_entry=entry)
    token = _first(token, entry.token) or _token_from_file(entry.token_file)
    cert_path: str | Path | None = _first(cert, entry.cert)
    if token is None and cert_path is None:
        token = _first(env.get("SRCNET_TOKEN"), env.get("CANFAR_TOKEN"), conf.get("token"))
        cert_path = _first(env.get("CANFAR_CERTIFICATE"), conf.get("cert"))
        if token is None and cert_path is None and default_cert().is_file():
            cert_path = default_cert()
    cert_file = Path(cert_path).expanduser() if cert_path else None
    checked = check_url(_first(url, entry.url) or CANFAR_URL, has_credential=bool(token or cert_file))
    return Settings(entry.backend, checked, token, cert_file, state, reason, site=entry.name, site_entry=entry)


def _token_from_file(path: Path | None) -> str | None:
    """The token kept in ``path`` (its first line); exit 3 naming the file when it cannot be read."""
    if path is None:
        return None
    try:
        lines = path.read_text().strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthError(f"{path}: cannot read the token file ({getattr(exc, 'strerror', None) or exc})") from None
    if not lines or not lines[0].strip():
        raise AuthError(f"{path}: the token file is empty")
    return lines[0].strip()


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """The flags :func:`resolve` takes, shared by the CLI and the TUI's command line."""
    parser.add_argument(
        "--backend", choices=("local", "canfar"), help="platform to use (default: canfar when a credential is found, else local)"
    )
    parser.add_argument("--url", help="Skaha v1 base URL, e.g. https://ws-uv.canfar.net/skaha/v1")
    parser.add_argument("--token", help="bearer token (prefer SRCNET_TOKEN / CANFAR_TOKEN in the environment)")
    parser.add_argument("--cert", help="CADC proxy certificate (default ~/.ssl/cadcproxy.pem)")
    parser.add_argument("--state-dir", help="folder for the run ledger and the local server's state")
    parser.add_argument(
        "--site", help="a site by name: local, canfar, cansrc or a [sites.NAME] of the config file (env SRCNET_SITE)"
    )


def from_args(args: argparse.Namespace) -> Settings:
    """:func:`resolve` for parsed global options (those of :func:`add_global_options`)."""
    return resolve(args.backend, args.url, args.token, args.cert, args.state_dir, site=getattr(args, "site", None))
