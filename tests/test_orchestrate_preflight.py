"""Before a long run: a proxy certificate that would expire before the run ends is reported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.runs.orchestrate import Reporter, warn_if_credential_expires
from core.settings import Settings


def _proxy_cert(path: Path, valid_for: dt.timedelta) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tester")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + valid_for)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


class Notes(Reporter):
    def __init__(self):
        self.lines = []

    def notice(self, message):
        self.lines.append(message)


def _settings(cert: Path, tmp_path: Path) -> Settings:
    return Settings("canfar", "https://example.invalid/skaha/v1", None, cert, tmp_path, "test")


def test_certificate_expiring_during_the_run_is_reported(tmp_path):
    notes = Notes()
    warn_if_credential_expires(_settings(_proxy_cert(tmp_path / "p.pem", dt.timedelta(hours=2)), tmp_path), notes)
    assert len(notes.lines) == 1 and "expires in 2.0 h" in notes.lines[0] and "cadc-get-cert" in notes.lines[0]


def test_certificate_valid_for_days_is_not_reported(tmp_path):
    notes = Notes()
    warn_if_credential_expires(_settings(_proxy_cert(tmp_path / "p.pem", dt.timedelta(days=9)), tmp_path), notes)
    assert notes.lines == []
