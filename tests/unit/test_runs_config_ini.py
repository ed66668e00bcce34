"""Reading a config section and saving edits back: only the changed keys' lines move, nothing else."""

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.config import config_sections, load_run_config, read_section, update_section

SEED = FIXTURES / "seed" / "config.ini"

COMMENTED = """\
# project settings, kept by hand
[DEFAULT]
interval = 2

[demo]
; where the session writes
vos_dir = /arc/home/demo
env = A=1,
    # the second variable
    B=2
Cores: 4
# keep ram small on the test cluster
ram = 2

[other]
x = 1
"""


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    path = tmp_path / "config.ini"
    path.write_text(COMMENTED)
    return path


def test_a_continued_value_reads_as_one_value(commented):
    values = read_section(commented, "demo")
    assert values["env"] == "A=1,\nB=2"
    assert "b" not in values and values["cores"] == "4"


def test_saving_unchanged_values_leaves_the_file_byte_for_byte(commented):
    update_section(commented, "demo", read_section(commented, "demo"))
    assert commented.read_text() == COMMENTED


def test_the_seed_config_survives_an_edit_of_one_key(tmp_path):
    path = tmp_path / "config.ini"
    shutil.copy(SEED, path)
    values = read_section(path, "sofia-parallel")
    update_section(path, "sofia-parallel", values)
    assert path.read_text() == SEED.read_text()  # byte for byte, even without a final newline
    update_section(path, "sofia-parallel", {**values, "logs_dir": "run-logs"})
    edited = SEED.read_text().replace("logs_dir = logs", "logs_dir = run-logs")
    assert path.read_text() == edited.rstrip("\n") + "\n"


def test_an_edited_key_is_rewritten_where_it_stands(commented):
    values = read_section(commented, "demo")
    update_section(commented, "demo", {**values, "cores": "8", "env": "A=1, B=3"})
    assert commented.read_text() == COMMENTED.replace("Cores: 4", "Cores: 8").replace(
        "env = A=1,\n    # the second variable\n    B=2\n", "env = A=1, B=3\n    # the second variable\n"
    )
    assert read_section(commented, "demo")["env"] == "A=1, B=3"


def test_an_edit_of_another_key_keeps_continuation_lines(commented):
    values = read_section(commented, "demo")
    update_section(commented, "demo", {**values, "ram": "3"})
    assert commented.read_text() == COMMENTED.replace("ram = 2", "ram = 3")
    assert read_section(commented, "demo")["env"] == "A=1,\nB=2"


def test_new_keys_follow_the_last_key_and_cleared_keys_go(commented):
    values = read_section(commented, "demo")
    del values["vos_dir"]
    update_section(commented, "demo", {**values, "name": "demo-run", "ram": " "})
    text = commented.read_text()
    assert "vos_dir" not in text and "ram =" not in text
    assert "; where the session writes\n" in text  # the comment stays where it was
    assert "Cores: 4\n# keep ram small on the test cluster\nname = demo-run\n\n[other]" in text
    assert read_section(commented, "other") == {"interval": "2", "x": "1"}


def test_a_multi_line_value_is_written_as_continuation_lines(commented):
    values = read_section(commented, "demo")
    update_section(commented, "demo", {**values, "env": "X=1\nY=2"})
    assert "env = X=1\n    Y=2\n    # the second variable\nCores: 4" in commented.read_text()
    assert read_section(commented, "demo")["env"] == "X=1\nY=2"


def test_windows_line_endings_are_kept(tmp_path):
    path = tmp_path / "config.ini"
    path.write_bytes(COMMENTED.replace("\n", "\r\n").encode())
    update_section(path, "demo", {**read_section(path, "demo"), "ram": "3"})
    assert path.read_bytes() == COMMENTED.replace("ram = 2", "ram = 3").replace("\n", "\r\n").encode()


def test_inherited_default_values_are_not_copied_into_the_section(commented):
    update_section(commented, "demo", read_section(commented, "demo"))
    assert commented.read_text().count("interval") == 1


def test_a_missing_section_is_appended(commented):
    update_section(commented, "fresh", {"cores": "2"})
    assert commented.read_text() == COMMENTED + "\n[fresh]\ncores = 2\n"
    assert config_sections(commented) == ["demo", "other", "fresh"]


def test_the_saved_file_still_loads_as_a_run_config(tmp_path):
    path = tmp_path / "config.ini"
    shutil.copy(SEED, path)
    (tmp_path / "sofia.par").write_text("")
    (tmp_path / "sofia_test_datacube.fits").write_bytes(b"")
    update_section(path, "sofia-task", {**read_section(path, "sofia-task"), "env": "A=1,\nB=2", "cores": "3"})
    config = load_run_config(path, kind="task")
    assert config.env == {"A": "1", "B": "2"} and config.cores == 3


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(NotFound, match="no such configuration file"):
        read_section(tmp_path / "nope.ini", "demo")
    broken = tmp_path / "broken.ini"
    broken.write_text("[demo]\nkey = 1\nkey = 2\n")
    with pytest.raises(UsageError, match=r"^broken.ini \[demo\] key: is given twice \(again on line 3\); keep one$"):
        update_section(broken, "demo", {"key": "3"})
    assert broken.read_text() == "[demo]\nkey = 1\nkey = 2\n"
    with pytest.raises(
        UsageError, match=r"^config.ini: no \[missing\] section \(sections found: \[sofia-task\], \[sofia-parallel\]\)$"
    ):
        read_section(SEED, "missing")


VALUES = st.text(alphabet="abc =,:#;[]", min_size=1, max_size=8).filter(lambda v: v.strip() and v.strip()[0] not in "#;")


@settings(max_examples=60, deadline=None)
@given(edits=st.dictionaries(st.sampled_from(["vos_dir", "env", "cores", "ram", "name"]), st.none() | VALUES))
def test_whatever_is_saved_reads_back_and_other_sections_stay(tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("ini") / "config.ini"
    path.write_text(COMMENTED)
    wanted = read_section(path, "demo")
    for key, value in edits.items():
        wanted.pop(key, None) if value is None else wanted.update({key: value.strip()})
    update_section(path, "demo", wanted)
    assert read_section(path, "demo") == wanted
    assert read_section(path, "other") == {"interval": "2", "x": "1"}
    assert all(line in path.read_text() for line in COMMENTED.splitlines() if line.startswith(("#", ";")))
