"""One table of config keys drives the parser, ``--dry-run``, the README and the TUI's form."""

import pytest
from conftest import ROOT

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import CONFIG_KEYS, KEYS_BY_NAME, check_run_config, markdown_key_table

BASE = {"vos_dir": "/arc/projects/p", "image_file": "/arc/projects/p/cube.fits", "parameter_file": "/arc/projects/p/a.par"}


def test_the_readme_shows_the_key_table_as_the_code_has_it():
    assert markdown_key_table() in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README.md's 'Runs from config.ini' table differs from CONFIG_KEYS: paste markdown_key_table()'s output into it"
    )


def test_every_key_in_the_table_is_accepted_and_no_other(tmp_path):
    config = check_run_config(tmp_path / "c.ini", "s", "task", {**{key.name: "" for key in CONFIG_KEYS}, **BASE})
    assert config.cores == 2  # an empty value takes the default
    with pytest.raises(UsageError) as caught:
        check_run_config(tmp_path / "c.ini", "s", "task", {**BASE, "colour": "blue"})
    assert caught.value.key == "colour"
    assert all(f" {key.name}," in str(caught.value) or f" {key.name})" in str(caught.value) for key in CONFIG_KEYS)


def test_dry_run_lists_the_table_in_order_with_defaults_marked(tmp_path):
    config = check_run_config(tmp_path / "c.ini", "s", "task", {**BASE, "cores": "4", "cmd_file": "run.sh"})
    rows = config.describe()
    assert [key for key, _, _ in rows] == [key.name for key in CONFIG_KEYS if key.for_workload("sofia")]
    notes = {key: note for key, _, note in rows}
    assert notes["cores"] == "" and notes["gpus"] == "default" and notes["cmd_file"].startswith("ignored")
    assert "cmd_file" not in config.defaulted


@pytest.mark.parametrize("key", [key.name for key in CONFIG_KEYS if key.required])
def test_a_required_key_left_empty_is_named_and_carried(tmp_path, key):
    values = {**BASE, "parameter_file_dir": "/arc/projects/p/pars", key: " "}
    if not KEYS_BY_NAME[key].for_workload("sofia"):
        values.update(kind="command", image="images.canfar.net/x/y:1")
    kind = "parallel" if key == "parameter_file_dir" else "task"
    with pytest.raises(UsageError, match=rf"\[s\] {key}: is required") as caught:
        check_run_config(tmp_path / "c.ini", "s", kind, values)
    assert caught.value.key == key
