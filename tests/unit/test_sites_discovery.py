"""The two registry formats discovery reads: resource-caps lines and VOSI capabilities documents."""

import pytest

from srcnet_tui.core.discovery import Found, parse_capabilities, parse_resource_caps, registry_url, site_tables


def test_resource_caps_keeps_skaha_services_only():
    text = (
        "# CADC registry\n"
        "ivo://cadc.nrc.ca/skaha = https://ws-uv.canfar.net/skaha/capabilities\n"
        "ivo://cadc.nrc.ca/vault = https://ws-uv.canfar.net/vault/capabilities\n"
        "  ivo://swesrc.example/skaha=https://swe.example/skaha/capabilities   # trailing comment\n"
        "not a line\n"
    )
    assert parse_resource_caps(text) == [
        ("ivo://cadc.nrc.ca/skaha", "https://ws-uv.canfar.net/skaha/capabilities"),
        ("ivo://swesrc.example/skaha", "https://swe.example/skaha/capabilities"),
    ]


def test_a_registry_is_given_by_its_base_or_its_resource_caps():
    assert registry_url("https://reg.example/reg/") == "https://reg.example/reg/resource-caps"
    assert registry_url("https://reg.example/reg/resource-caps") == "https://reg.example/reg/resource-caps"


def test_the_newest_session_capability_wins_and_its_security_methods_are_named():
    text = """<capabilities>
      <capability standardID="http://www.opencadc.org/std/platform#session-1">
        <interface><accessURL use="base">https://h.example/skaha/v1/session</accessURL>
          <securityMethod standardID="ivo://ivoa.net/sso#token"/></interface>
      </capability>
      <capability standardID="http://www.opencadc.org/std/platform#session-2">
        <interface><accessURL use="base">https://h.example/skaha/v2/session</accessURL>
          <securityMethod standardID="ivo://ivoa.net/sso#cookie"/>
          <securityMethod standardID="ivo://ivoa.net/sso#tls-with-certificate"/></interface>
      </capability>
    </capabilities>"""
    assert parse_capabilities(text) == ("https://h.example/skaha/v2", ("cert",))


@pytest.mark.parametrize(
    "text, message",
    [("<not xml", "not a capabilities document"), ("<capabilities/>", "names no Skaha session capability")],
)
def test_a_document_without_a_session_capability_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_capabilities(text)


def test_only_new_usable_sites_become_tables():
    found = [
        Found("swesrc", "ivo://x/swesrc/skaha", "c", "https://swe.example/skaha/v1"),
        Found("canfar", "ivo://cadc.nrc.ca/skaha", "c", "https://ws-uv.canfar.net/skaha/v1", known_as="canfar"),
        Found("broken", "ivo://x/broken/skaha", "c", problem="HTTP 404"),
    ]
    assert site_tables(found) == '[sites.swesrc]\nurl = "https://swe.example/skaha/v1"\nstorage_root = "/cavern"\n'
