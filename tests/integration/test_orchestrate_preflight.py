"""Before a long run: a proxy certificate that would expire before the run ends is reported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from test_skaha_client_wire import _write_cert as _proxy_cert

from srcnet_tui.core.runs.preflight import credential_warning
from srcnet_tui.core.settings import Settings


def _settings(cert: Path, tmp_path: Path) -> Settings:
    return Settings("canfar", "https://example.invalid/skaha/v1", None, cert, tmp_path, "test")


def test_certificate_expiring_during_the_run_is_reported(tmp_path):
    warning = credential_warning(_settings(_proxy_cert(tmp_path / "p.pem", dt.timedelta(hours=2)), tmp_path))
    assert warning is not None and "expires in 2.0 h" in warning and "cadc-get-cert" in warning


def test_certificate_valid_for_days_is_not_reported(tmp_path):
    assert credential_warning(_settings(_proxy_cert(tmp_path / "p.pem", dt.timedelta(days=9)), tmp_path)) is None
