"""keymap.toml: read by core, every problem one line naming the file."""

import pytest

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.keymap_file import keymap_file, load_keymap


def test_a_flat_table_or_a_keymap_table_maps_ids_to_keys(tmp_path):
    flat = tmp_path / "keymap.toml"
    flat.write_text('"sessions.freeze" = "z"\n"app.quit" = "q,ctrl+q"\n')
    assert load_keymap(flat) == {"sessions.freeze": "z", "app.quit": "q,ctrl+q"}
    nested = tmp_path / "nested.toml"
    nested.write_text('[keymap]\n"logs.follow" = "F"\n')
    assert load_keymap(nested) == {"logs.follow": "F"}


def test_no_file_is_no_remapping(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert keymap_file() == tmp_path / "srcnet-tui" / "keymap.toml"
    assert load_keymap() == {}


@pytest.mark.parametrize(
    "text, message",
    [
        ('"sessions.freeze" = 3\n', r'^.*bad.toml: sessions.freeze: keys must be a string such as "ctrl\+x"$'),
        ("this is not toml [\n", r"^.*bad.toml: cannot read keymap: [^\n]+$"),
    ],
)
def test_a_broken_file_is_one_line_naming_it(tmp_path, text, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_keymap(bad)
