"""Which platform to talk to, with which credential, keeping state where.

Resolution order for every setting: command-line flag > environment > config file > default.
The config file is ``$XDG_CONFIG_HOME/srcnet-tui/config.toml`` (keys: backend, url, token, cert,
state_dir). The default backend is ``canfar`` when a CANFAR credential is found (a token, or the
CADC proxy certificate at ``~/.ssl/cadcproxy.pem``), otherwise ``local``.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from srcnet_tui.core.errors import UsageError

BACKENDS = ("local", "canfar")
CANFAR_URL = "https://ws-uv.canfar.net/skaha/v1"


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

    @property
    def site_name(self) -> str:
        """The name runs record and are resumed at."""
        return self.site or self.backend

    def describe(self) -> str:
        """One line for stderr / the TUI header; never includes the token or certificate content."""
        where = self.url or "local server"
        return f"backend: {self.backend} ({where}; {self.reason})"


CONFIG_KEYS = ("backend", "url", "token", "cert", "state_dir")


def _read_config_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read config file: {exc}") from None
    for key, value in values.items():
        if key not in CONFIG_KEYS:
            raise UsageError(f"{path}: unknown key {key!r} (known: {', '.join(CONFIG_KEYS)})")
        if not isinstance(value, str):
            raise UsageError(f"{path}: {key} must be a string in quotes, not {value!r}")
    return values


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
) -> Settings:
    """Resolve settings from flags (the arguments), the environment and the config file."""
    env = os.environ if environ is None else environ
    conf = _read_config_file(config_file())
    state = Path(_first(state_dir, env.get("SRCNET_STATE_DIR"), conf.get("state_dir")) or default_state_dir())
    state = state.expanduser().absolute()
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
    if chosen == "canfar":
        url = check_url(url or CANFAR_URL, has_credential=bool(token or cert_file))
        if cert_file is None and token is None and default_cert().is_file():
            cert_file = default_cert()
    return Settings(chosen, url, token, cert_file, state, reason)


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """The flags :func:`resolve` takes, shared by the CLI and the TUI's command line."""
    parser.add_argument(
        "--backend", choices=("local", "canfar"), help="platform to use (default: canfar when a credential is found, else local)"
    )
    parser.add_argument("--url", help="Skaha v1 base URL, e.g. https://ws-uv.canfar.net/skaha/v1")
    parser.add_argument("--token", help="bearer token (prefer SRCNET_TOKEN / CANFAR_TOKEN in the environment)")
    parser.add_argument("--cert", help="CADC proxy certificate (default ~/.ssl/cadcproxy.pem)")
    parser.add_argument("--state-dir", help="folder for the run ledger and the local server's state")
