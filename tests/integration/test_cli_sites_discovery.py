"""``sites --discover``: a registry and capabilities documents served over loopback, one of them by serve-local."""

from __future__ import annotations

import json
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SWE_CAPABILITIES = """<?xml version="1.0" encoding="UTF-8"?>
<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
    xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <capability standardID="vos://cadc.nrc.ca~vospace/CADC/std/Proc#sessions-1.0">
    <interface xsi:type="vs:ParamHTTP" role="std"><accessURL use="base">https://swe.example.org/skaha/v0/session</accessURL></interface>
  </capability>
  <capability standardID="http://www.opencadc.org/std/platform#session-1">
    <interface xsi:type="vs:ParamHTTP" role="std" version="1.0">
      <accessURL use="base">https://swe.example.org/skaha/v1/session</accessURL>
      <securityMethod standardID="ivo://ivoa.net/sso#cookie"/>
      <securityMethod standardID="ivo://ivoa.net/sso#tls-with-certificate"/>
      <securityMethod standardID="ivo://ivoa.net/sso#token"/>
    </interface>
  </capability>
</vosi:capabilities>
"""


@pytest.fixture
def registry(local_server):
    """A loopback registry listing a remote-looking site, the test's serve-local, a broken entry and a non-Skaha one."""
    documents: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    documents["/reg/resource-caps"] = (
        "# a test registry\n"
        f"ivo://example.org/swesrc/skaha = {base}/swe/skaha/capabilities\n"
        f"ivo://loopback.test/skaha = {local_server.root}/capabilities\n"
        f"ivo://example.org/broken/skaha = {base}/broken/skaha/capabilities\n"
        f"ivo://example.org/vault = {base}/vault/capabilities\n"
    )
    documents["/swe/skaha/capabilities"] = SWE_CAPABILITIES
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/reg"
    server.shutdown()
    server.server_close()


def config_path(test_env) -> Path:
    return Path(test_env["XDG_CONFIG_HOME"]) / "srcnet-tui" / "config.toml"


def test_discovery_prints_the_skaha_services_and_saves_only_when_asked(registry, local_server, cli, test_env):
    result = cli("sites", "--discover", registry, "--json")
    assert result.returncode == 0, result.stderr
    found = {row["site"]: row for row in json.loads(result.stdout)}
    assert set(found) == {"swesrc", "loopback", "broken"}
    assert found["swesrc"]["url"] == "https://swe.example.org/skaha/v1"
    assert found["swesrc"]["credentials"] == ["cert", "token"]
    assert found["loopback"]["url"] == local_server.url
    assert found["broken"]["url"] is None and "HTTP 404" in found["broken"]["problem"]
    assert "--save" in result.stderr and not config_path(test_env).exists()

    config_path(test_env).parent.mkdir(parents=True)
    config_path(test_env).write_text('backend = "local"\n')
    saved = cli("sites", "--discover", registry, "--save")
    assert saved.returncode == 0, saved.stderr
    assert "added 2 site(s)" in saved.stderr
    written = tomllib.loads(config_path(test_env).read_text())
    assert written["backend"] == "local"
    assert written["sites"]["swesrc"] == {"url": "https://swe.example.org/skaha/v1", "storage_root": "/cavern"}

    listed = cli("sites", "loopback", "--json")
    assert json.loads(listed.stdout)[0]["answers"] is True
    again = cli("sites", "--discover", registry, "--save", "--json")
    assert {row["site"]: row["known_as"] for row in json.loads(again.stdout)}["swesrc"] == "swesrc"
    assert "added" not in again.stderr


def test_a_registry_that_lists_no_skaha_is_one_line(registry, cli):
    result = cli("sites", "--discover", registry.replace("/reg", "/nothing"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "resource-caps" in result.stderr
