"""Is the credential for the chosen platform usable, and for how long?

The CLI refuses (exit 3) before calling CANFAR with an expired or missing credential, and the TUI
shows a countdown. A CADC proxy certificate carries its own ``notAfter``; a bearer token's expiry
is known only when it is a JWT (its ``exp`` claim, read without verification, for display only).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from srcnet_tui.core.errors import AuthError
from srcnet_tui.core.settings import Settings


@dataclass(frozen=True)
class CredentialStatus:
    """``kind`` is ``local``, ``token``, ``cert`` or ``none``; ``problem`` is None when usable."""

    kind: str
    expires_at: datetime | None = None
    seconds_left: float | None = None
    problem: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def cert_validity(path: Path) -> tuple[datetime, datetime]:
    """``(notBefore, notAfter)`` of the first certificate in a PEM file (raises ValueError/OSError)."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return certificate.not_valid_before_utc, certificate.not_valid_after_utc


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, decoded without verification; None for other tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def _timed(kind: str, expires_at: datetime | None, label: str) -> CredentialStatus:
    if expires_at is None:
        return CredentialStatus(kind)
    left = (expires_at - _now()).total_seconds()
    problem = f"{label} expired at {expires_at:%Y-%m-%d %H:%M} UTC" if left <= 0 else None
    return CredentialStatus(kind, expires_at, max(left, 0.0), problem)


def _cert_status(path: Path) -> CredentialStatus:
    if not path.is_file():
        return CredentialStatus("cert", problem=f"{path}: proxy certificate not found (run cadc-get-cert)")
    try:
        not_before, expires_at = cert_validity(path)
    except (OSError, ValueError) as exc:
        return CredentialStatus("cert", problem=f"{path}: cannot read the proxy certificate ({exc})")
    if not_before > _now():
        return CredentialStatus("cert", expires_at, None, f"{path}: certificate not valid before {not_before:%Y-%m-%d %H:%M} UTC")
    status = _timed("cert", expires_at, f"{path}: proxy certificate")
    return (
        status if status.problem is None else CredentialStatus("cert", expires_at, 0.0, status.problem + " (run cadc-get-cert)")
    )


def credential_status(settings: Settings) -> CredentialStatus:
    """What credential the settings will use, when it expires, and what is wrong with it if anything."""
    if settings.backend == "local":
        return CredentialStatus("local")
    if settings.token:
        return _timed("token", jwt_expiry(settings.token), "token")
    if settings.cert:
        return _cert_status(Path(settings.cert))
    if settings.site and settings.site != "canfar":
        hint = f"add token_file (or token, cert) to [sites.{settings.site}] in the config file, or give --token"
        return CredentialStatus("none", problem=f"no credential for site {settings.site}: {hint}")
    return CredentialStatus("none", problem="no CANFAR credential: give --token or --cert, or run cadc-get-cert")


def require_credential(settings: Settings) -> CredentialStatus:
    """The status, or :class:`AuthError` (exit 3) when the credential is missing or expired."""
    status = credential_status(settings)
    if status.problem:
        raise AuthError(status.problem)
    return status
