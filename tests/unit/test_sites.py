"""Sites: built-in and configured entries, how --site resolves, and storage roots."""

import pytest

from srcnet_tui.core import settings, sites
from srcnet_tui.core.errors import AuthError, UsageError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return tmp_path


def config(home, text: str):
    path = home / ".config" / "srcnet-tui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_built_in_sites_need_no_config(home):
    known = settings.known_sites()
    assert [known[n].storage_root for n in ("local", "canfar", "cansrc")] == ["/arc", "/arc", "/cavern"]
    s = settings.resolve(site="cansrc", environ={})
    assert (s.backend, s.url, s.site_name, s.storage_root) == ("canfar", "https://src.canfar.net/skaha/v1", "cansrc", "/cavern")


def test_a_configured_site_brings_its_url_and_token_file(home):
    (home / "ukrc.token").write_text("abc.def.ghi\n")
    config(home, '[sites.ukSRC]\nurl = "https://uk.example.org/skaha/v1"\ntoken_file = "~/ukrc.token"\n')
    s = settings.resolve(site="uksrc", environ={"CANFAR_TOKEN": "the-canfar-one"})
    assert (s.url, s.token, s.site_name, s.storage_root) == ("https://uk.example.org/skaha/v1", "abc.def.ghi", "uksrc", "/cavern")
    assert "abc.def" not in repr(s) and "site uksrc" in s.describe()


def test_a_site_without_its_own_credential_takes_the_usual_one(home):
    s = settings.resolve(site="canfar", environ={"CANFAR_TOKEN": "tok"})
    assert (s.url, s.token) == (sites.CANFAR_URL, "tok")


def test_a_table_completes_a_built_in_site(home):
    config(home, '[sites.cansrc]\ntoken = "t1"\narc_maps_to = "/cavern/home/me"\n')
    s = settings.resolve(site="canSRC", environ={})
    assert (s.url, s.token) == ("https://src.canfar.net/skaha/v1", "t1")
    assert s.storage_path("/arc/projects/x.fits") == "/cavern/home/me/projects/x.fits"


def test_site_comes_from_flag_env_or_file_but_backend_flags_reach_a_place_themselves(home):
    config(home, 'site = "cansrc"\n')
    assert settings.resolve(environ={}).site_name == "cansrc"
    assert settings.resolve(environ={"SRCNET_SITE": "local"}).backend == "local"
    assert settings.resolve(backend="local", environ={"SRCNET_SITE": "cansrc"}).site_name == "local"
    with pytest.raises(UsageError, match="--backend local: site cansrc is reached with --backend canfar"):
        settings.resolve(backend="local", site="cansrc", environ={})


def test_a_known_url_is_that_site(home):
    s = settings.resolve(url="https://src.canfar.net/skaha/v1", environ={"SRCNET_TOKEN": "t"})
    assert (s.site_name, s.storage_root) == ("cansrc", "/cavern")
    assert settings.resolve(environ={"SRCNET_TOKEN": "t"}).site_name == "canfar"


def test_old_flat_config_files_still_load(home):
    config(home, 'backend = "local"\nstate_dir = "/x/state"\n')
    s = settings.resolve(environ={})
    assert (s.backend, s.site_name, str(s.state_dir)) == ("local", "local", "/x/state")


@pytest.mark.parametrize(
    "text, message",
    [
        ('[sites.x]\nurl = "https://h/skaha/v1"\ncolour = "red"\n', r"\[sites.x\]: unknown key 'colour'"),
        ('[sites.x]\nurl = "https://h/skaha/v1"\nstorage_root = "/data"\n', r"storage_root must be one of /arc, /cavern"),
        ('[sites.x]\nstorage_root = "/cavern"\n', r"\[sites.x\]: url is required"),
        ('[sites.all]\nurl = "https://h/skaha/v1"\n', r"not 'all'"),
        ("[sites.x]\nurl = 5\n", r"url must be a non-empty string"),
        ('sites = "x"\n', r"sites must be tables"),
    ],
)
def test_a_broken_site_table_is_one_line_naming_it(home, text, message):
    config(home, text)
    with pytest.raises(UsageError, match=message):
        settings.resolve(environ={})


def test_an_unreadable_token_file_is_exit_3_naming_it(home):
    config(home, '[sites.x]\nurl = "https://h.example/skaha/v1"\ntoken_file = "missing.token"\n')
    with pytest.raises(AuthError, match=r"missing.token: cannot read the token file"):
        settings.resolve(site="x", environ={})


def test_several_sites_only_where_a_command_asks_them_all(home):
    known = settings.known_sites()
    assert [s.name for s in sites.several(known, "all")] == ["local", "canfar", "cansrc"]
    assert [s.name for s in sites.several(known, "cansrc, local,cansrc")] == ["cansrc", "local"]
    with pytest.raises(UsageError, match="only `sessions` lists several"):
        settings.resolve(site="all", environ={})


@pytest.mark.parametrize(
    "root, path, expected",
    [
        ("/cavern", "/cavern/home/me/cube.fits", "/cavern/home/me/cube.fits"),
        ("/arc", "/arc/projects/a", "/arc/projects/a"),
        ("/arc", "arc:projects/a", "arc:projects/a"),
        ("/cavern", "data/local.fits", "data/local.fits"),
    ],
)
def test_storage_paths_under_the_sites_root_stay_as_written(root, path, expected):
    assert sites.Site("s", "https://h/skaha/v1", root).storage_path(path) == expected


def test_arc_on_a_cavern_site_is_refused_unless_mapped():
    site = sites.Site("cansrc", "https://h/skaha/v1", sites.CAVERN)
    with pytest.raises(UsageError, match=r"^vos_dir: '/arc/home/me' is under /arc, which site cansrc does not have") as caught:
        site.storage_path("/arc/home/me", key="vos_dir")
    assert caught.value.key == "vos_dir" and "arc_maps_to" in str(caught.value)
    mapped = sites.Site("cansrc", "https://h/skaha/v1", sites.CAVERN, arc_maps_to="/cavern/")
    assert mapped.storage_path("arc:home/me/x") == "/cavern/home/me/x"
    with pytest.raises(UsageError, match="is under /cavern, which site canfar does not have"):
        sites.Site("canfar", sites.CANFAR_URL, sites.ARC).storage_path("/cavern/x")


def test_a_path_is_split_at_its_storage_root():
    assert sites.split_storage_path("/cavern/home/a") == ("/cavern", "/home/a")
    assert sites.split_storage_path("arc:projects/b") == ("/arc", "/projects/b")
    assert sites.split_storage_path("/arcade/c") == (None, "/arcade/c")


def test_a_site_played_by_a_local_server_of_its_own_keeps_the_ledger_in_the_state_folder(home):
    config(home, '[sites.b]\nserver_dir = "servers/b"\n')
    s = settings.resolve(site="b", state_dir=str(home / "state"), environ={})
    assert (s.backend, s.site_name, s.storage_root) == ("local", "b", "/arc")
    assert (s.local_server_dir, s.state_dir) == (home / ".config" / "srcnet-tui" / "servers" / "b", home / "state")
    assert settings.resolve(site="local", state_dir=str(home / "state"), environ={}).local_server_dir == home / "state"


def test_server_dir_and_url_exclude_each_other(home):
    config(home, '[sites.canfar]\nserver_dir = "/x"\n')
    with pytest.raises(UsageError, match=r"\[sites.canfar\]: server_dir is for a site played by a local server"):
        settings.known_sites()


def test_one_resolution_names_the_sites_to_ask_the_broken_and_those_without_a_credential(home, tmp_path, monkeypatch):
    from srcnet_tui.core.site_targets import site_settings

    for name in ("CANFAR_TOKEN", "SRCNET_TOKEN", "CANFAR_CERTIFICATE", "SRCNET_SITE"):
        monkeypatch.delenv(name, raising=False)
    config(home, f'[sites.gamma]\nurl = "https://gamma.example.org/skaha/v1"\ntoken_file = "{tmp_path}/nosuch-token"\n')
    targets = site_settings("all", tmp_path / "state")
    assert [s.site_name for s in targets.reachable] == ["local"]
    assert targets.reachable[0].state_dir == tmp_path / "state"
    assert list(targets.broken) == ["gamma"] and "nosuch-token: cannot read the token file" in str(targets.broken["gamma"])
    assert sorted(targets.uncredentialed) == ["canfar", "cansrc"]
    why = targets.not_asked()  # the TUI's lines
    assert why["gamma"] == str(targets.broken["gamma"]) and why["cansrc"].startswith("skipped (no credential for site cansrc")
    assert {e.exit_code for e in targets.credential_errors().values()} == {3}  # the CLI's, for sites named one by one
    assert [s.site_name for s in site_settings("cansrc,local", None).reachable] == ["local"]
