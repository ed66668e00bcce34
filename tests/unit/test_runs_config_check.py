"""Checking edited config values in memory (the Runs pane's form) gives what reading the file gives."""

from pathlib import Path

import pytest

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import check_run_config, load_run_config

SECTION = """[demo]
vos_dir = /arc/home/demo
image_file = cube.fits
parameter_file = demo.par
split = 2,2,1
cores = 1
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "cube.fits").write_bytes(b"")
    (tmp_path / "demo.par").write_text("# parameters\n")
    (tmp_path / "config.ini").write_text(SECTION)
    return tmp_path


def values_of(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)


def test_values_checked_in_memory_equal_the_file_read(folder):
    from_file = load_run_config(folder / "config.ini", section="demo", kind="parallel")
    in_memory = check_run_config(folder / "config.ini", "demo", "parallel", values_of(SECTION))
    assert in_memory == from_file
    assert in_memory.image_file == str(folder / "cube.fits")  # relative to the config's folder, not the cwd


def test_nothing_is_written_beside_the_config(folder):
    before = sorted(p.name for p in folder.iterdir())
    check_run_config(folder / "config.ini", "demo", "parallel", {**values_of(SECTION), "cores": "4"})
    with pytest.raises(UsageError):
        check_run_config(folder / "config.ini", "demo", "parallel", {**values_of(SECTION), "cores": "x"})
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cores", "x", "config.ini [demo] cores: must be a positive integer, not 'x'"),
        ("image_file", "missing.fits", "config.ini [demo] image_file: no such file: "),
        ("colour", "blue", "config.ini [demo] colour: unknown key"),
        ("split", "2,2", "config.ini [demo] split: must be auto, NX,NY,NZ"),
    ],
)
def test_errors_name_the_file_section_and_key_as_reading_the_file_does(folder, key, value, message):
    values = {**values_of(SECTION), key: value}
    with pytest.raises(UsageError) as in_memory:
        check_run_config(folder / "config.ini", "demo", "parallel", values)
    (folder / "config.ini").write_text("[demo]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    with pytest.raises(UsageError) as from_file:
        load_run_config(folder / "config.ini", section="demo", kind="parallel")
    assert str(in_memory.value) == str(from_file.value)
    assert str(in_memory.value).startswith(message)
    assert in_memory.value.key == from_file.value.key == key


def test_a_config_file_need_not_exist_yet(tmp_path):
    (tmp_path / "cube.fits").write_bytes(b"")
    (tmp_path / "demo.par").write_text("")
    config = check_run_config(tmp_path / "new.ini", "demo", "task", {
        "vos_dir": "/arc/home/demo", "image_file": "cube.fits", "parameter_file": "demo.par"})  # fmt: skip
    assert config.path == tmp_path / "new.ini" and config.cores == 2 and config.defaulted >= {"cores", "ram"}


def test_empty_values_take_their_defaults_and_an_unknown_kind_is_a_bug(folder):
    config = check_run_config(folder / "config.ini", "demo", "parallel", {**values_of(SECTION), "cores": "  "})
    assert config.cores == 8 and "cores" in config.defaulted
    with pytest.raises(ValueError):
        check_run_config(folder / "config.ini", "demo", "serial", values_of(SECTION))
