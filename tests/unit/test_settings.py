"""Which backend and credential a user gets: flag > env > config file > default."""

import pytest

from srcnet_tui.core import settings
from srcnet_tui.core.errors import UsageError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return tmp_path


def test_without_credentials_the_local_backend_is_used_and_said(home):
    s = settings.resolve(environ={})
    assert s.backend == "local"
    assert "no CANFAR credential" in s.describe()
    assert s.state_dir == home / ".local" / "state" / "srcnet-tui"


def test_a_canfar_token_in_the_environment_selects_canfar_without_leaking_it(home):
    s = settings.resolve(environ={"CANFAR_TOKEN": "sekrit-token"})
    assert s.backend == "canfar"
    assert s.url == settings.CANFAR_URL
    assert "sekrit" not in s.describe()


def test_the_proxy_certificate_in_home_selects_canfar(home):
    pem = home / ".ssl" / "cadcproxy.pem"
    pem.parent.mkdir()
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    s = settings.resolve(environ={})
    assert (s.backend, s.cert) == ("canfar", pem)


def test_flag_beats_environment_beats_config_file(home):
    conf = home / ".config" / "srcnet-tui" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('backend = "canfar"\nstate_dir = "/from/file"\n')
    assert settings.resolve(environ={}).state_dir.as_posix() == "/from/file"
    assert settings.resolve(environ={"SRCNET_STATE_DIR": "/from/env"}).state_dir.as_posix() == "/from/env"
    assert settings.resolve(state_dir="/from/flag", environ={"SRCNET_STATE_DIR": "/e"}).state_dir.as_posix() == "/from/flag"
    assert settings.resolve(environ={}).backend == "canfar"
    assert settings.resolve(backend="local", environ={"SRCNET_BACKEND": "canfar"}).backend == "local"


def test_an_unknown_backend_is_one_clear_error(home):
    with pytest.raises(UsageError, match="backend: must be one of local, canfar"):
        settings.resolve(environ={"SRCNET_BACKEND": "slurm"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("backend = \n", "config.toml: cannot read config file"),
        ("token = 123\n", "config.toml: token must be a string"),
        ('colour = "blue"\n', "config.toml: unknown key 'colour'"),
    ],
)
def test_a_broken_config_file_is_named(home, text, message):
    conf = home / ".config" / "srcnet-tui" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(text)
    with pytest.raises(UsageError, match=message):
        settings.resolve(environ={})


def test_a_relative_state_folder_is_made_absolute_so_the_daemon_finds_it(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert settings.resolve(state_dir="relstate", environ={}).state_dir == tmp_path / "relstate"


def test_the_token_never_appears_in_the_settings_repr(home):
    assert "sekrit" not in repr(settings.resolve(environ={"CANFAR_TOKEN": "sekrit"}))


@pytest.mark.parametrize(
    "url, message",
    [
        ("ws-uv.canfar.net/skaha/v1", "must be an https:// URL"),
        ("ftp://ws-uv.canfar.net/skaha/v1", "must be an https:// URL"),
        ("http://[::1/skaha/v1", "is not a valid URL"),
        ("http://ws-uv.canfar.net/skaha/v1", "would send the credential unencrypted"),
    ],
)
def test_a_url_that_cannot_work_is_refused_at_once(home, url, message):
    with pytest.raises(UsageError, match=message):
        settings.resolve(url=url, environ={"CANFAR_TOKEN": "t"})


def test_plain_http_to_loopback_is_allowed_for_a_local_skaha(home):
    s = settings.resolve(url="http://127.0.0.1:8080/skaha/v1", environ={"CANFAR_TOKEN": "t"})
    assert s.url == "http://127.0.0.1:8080/skaha/v1"
