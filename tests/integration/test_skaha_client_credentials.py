"""Credential status: proxy-certificate expiry, JWT countdown, and refusal (exit 3) before calling CANFAR."""

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from test_skaha_client_wire import _write_cert

from srcnet_tui.core.connect import open_sync
from srcnet_tui.core.credentials import credential_status, jwt_expiry, require_credential
from srcnet_tui.core.errors import AuthError
from srcnet_tui.core.settings import Settings


def canfar(token=None, cert=None):
    return Settings("canfar", "https://ws-uv.canfar.net/skaha/v1", token, cert, Path("/nonexistent"), "test")


def _jwt(exp: float) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'exp': exp, 'sub': 'alice'})}.sig"


def test_valid_certificate_counts_down(tmp_path):
    status = credential_status(canfar(cert=_write_cert(tmp_path / "p.pem", dt.timedelta(days=3))))
    assert status.kind == "cert" and status.problem is None
    assert 2.9 * 86400 < status.seconds_left <= 3 * 86400


def test_expired_certificate_is_a_problem(tmp_path):
    cert = _write_cert(tmp_path / "p.pem", dt.timedelta(days=-1))
    status = credential_status(canfar(cert=cert))
    assert status.seconds_left == 0 and "expired" in status.problem and "p.pem" in status.problem
    with pytest.raises(AuthError):
        require_credential(canfar(cert=cert))
    with pytest.raises(AuthError, match="expired"):
        open_sync(canfar(cert=cert))  # refused before any request


def test_missing_or_unreadable_certificate(tmp_path):
    assert "not found" in credential_status(canfar(cert=tmp_path / "absent.pem")).problem
    (tmp_path / "junk.pem").write_text("junk")
    assert "cannot read" in credential_status(canfar(cert=tmp_path / "junk.pem")).problem


def test_tokens_jwt_and_opaque():
    soon = dt.datetime.now(dt.UTC).timestamp() + 600
    status = credential_status(canfar(token=_jwt(soon)))
    assert status.kind == "token" and status.problem is None and 590 < status.seconds_left <= 600
    assert "expired" in credential_status(canfar(token=_jwt(soon - 1200))).problem
    opaque = credential_status(canfar(token="an-opaque-token"))
    assert (opaque.kind, opaque.expires_at, opaque.problem) == ("token", None, None)
    assert jwt_expiry("a.b.c") is None


def test_local_and_no_credential():
    assert credential_status(Settings("local", None, None, None, Path("/x"), "t")).kind == "local"
    status = credential_status(canfar())
    assert status.kind == "none" and "credential" in status.problem
