"""The run configuration: the seed's config.ini unchanged, visible defaults, errors naming section and key."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES

from srcnet_tui.core import sites
from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.config import DEFAULT_IMAGE, DEFAULT_OVERLAP, SplitSpec, load_run_config

SEED = FIXTURES / "seed"


@pytest.fixture
def seed_dir(tmp_path):
    """A copy of the seed's config.ini and sofia.par, with the local files the [sofia-task] section names."""
    shutil.copy(SEED / "config.ini", tmp_path / "config.ini")
    shutil.copy(SEED / "sofia.par", tmp_path / "sofia.par")
    (tmp_path / "sofia_test_datacube.fits").write_bytes(b"")
    (tmp_path / "parameter_files").mkdir()
    return tmp_path


def write_config(folder: Path, text: str) -> Path:
    path = folder / "config.ini"
    path.write_text(text)
    return path


def test_seed_task_section_reads_unchanged_with_defaults(seed_dir):
    config = load_run_config(seed_dir / "config.ini", kind="task")
    assert config.section == "sofia-task"
    assert config.vos_dir == "/arc/projects/WALLABY_test/canfar-sofia/tasks"
    assert config.parameter_file == str(seed_dir / "sofia.par")
    assert config.image_file == str(seed_dir / "sofia_test_datacube.fits")
    assert config.profile_log == str(seed_dir / "sofia_profile.txt")  # resolved like every other path
    assert (config.cores, config.ram_gb, config.gpus) == (2, 8, 0)
    assert config.image == DEFAULT_IMAGE
    assert config.name == "sofia-task"
    assert config.interval == 1.0 and config.finder == "sofia" and config.split is None
    assert config.overlap == (DEFAULT_OVERLAP, DEFAULT_OVERLAP)
    assert config.max_parallel is None


def test_seed_parallel_section_keeps_arc_paths_as_written(seed_dir):
    config = load_run_config(seed_dir / "config.ini", kind="parallel")
    assert config.image_file == "/arc/projects/WALLABY_test/mw/norma.image.fits"
    assert config.parameter_file_dir == str(seed_dir / "parameter_files")
    assert config.logs_dir == str(seed_dir / "logs")
    assert (config.cores, config.ram_gb) == (8, 32)


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(seed_dir, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_run_config(Path(os.path.relpath(seed_dir / "config.ini")), kind="task")
    assert config.parameter_file == str(seed_dir / "sofia.par")


def test_describe_marks_defaults_and_the_ignored_cmd_file(seed_dir):
    config = load_run_config(seed_dir / "config.ini", kind="task")
    rows = {key: (value, note) for key, value, note in config.describe()}
    assert rows["cores"] == (2, "default")
    assert rows["image"] == (DEFAULT_IMAGE, "default")
    assert rows["vos_dir"][1] == ""
    assert rows["max_parallel"][1].startswith("default: no cap")
    assert "ignored" in rows["cmd_file"][1]
    data = config.to_dict()
    assert data["settings"]["ram"] == 8 and "ram" in data["defaults"]


def test_new_keys_override_defaults(tmp_path):
    (tmp_path / "t.par").write_text("")
    (tmp_path / "cube.fits").write_bytes(b"")
    path = write_config(
        tmp_path,
        "[sofia-parallel]\nvos_dir = /arc/projects/p/run/\nimage_file = cube.fits\nparameter_file = t.par\n"
        "image = images.canfar.net/me/sofia:1\nname = WALLABY-norma\ncores = 4\ngpus = 1\n"
        "env = OMP_PROC_BIND=true, A=1\n    B = two words\ninterval = 0.5\nfinder = BDSF\n"
        "split = 4, 4, 2\noverlap = 40,20\nregion_max_gb = 3\nmax_parallel = 10\n",
    )
    config = load_run_config(path, kind="parallel")
    assert config.vos_dir == "/arc/projects/p/run"
    assert config.image == "images.canfar.net/me/sofia:1"
    assert config.name == "wallaby-norma"
    assert (config.cores, config.gpus, config.ram_gb) == (4, 1, None)
    assert config.env == {"OMP_PROC_BIND": "true", "A": "1", "B": "two words"}
    assert config.interval == 0.5 and config.finder == "bdsf"
    assert config.split == SplitSpec("grid", (4, 4, 2))
    assert config.overlap == (40, 20) and config.region_max_gb == 3.0 and config.max_parallel == 10
    assert dict((k, n) for k, _, n in config.describe())["ram"] == "default: computed from the region size"


@pytest.mark.parametrize(
    "text, spec",
    [("auto", SplitSpec("auto")), ("1500x1500x1400", SplitSpec("size", (1500, 1500, 1400))), ("no", None)],
)
def test_split_forms(tmp_path, text, spec):
    (tmp_path / "t.par").write_text("")
    path = write_config(
        tmp_path,
        f"[sofia-parallel]\nvos_dir = /arc/x\nimage_file = /arc/x/c.fits\nparameter_file = t.par\n"
        f"parameter_file_dir = .\nsplit = {text}\n",
    )
    assert load_run_config(path, kind="parallel").split == spec


BASE = "[s]\nvos_dir = /arc/projects/p\nimage_file = /arc/projects/p/cube.fits\nparameter_file = /arc/projects/p/a.par\n"


@pytest.mark.parametrize(
    "extra, message",
    [
        ("cores = x\n", "config.ini [s] cores: must be a positive integer, not 'x'"),
        ("cores = 0\n", "config.ini [s] cores: must be a positive integer, not '0'"),
        ("ram = 1.5\n", "config.ini [s] ram: must be a positive integer, not '1.5'"),
        ("gpus = -1\n", "config.ini [s] gpus: must be an integer ≥ 0, not '-1'"),
        ("interval = 0\n", "config.ini [s] interval: must be between 0.1 and 3600 seconds, not '0'"),
        ("interval = 0.001\n", "config.ini [s] interval: must be between 0.1 and 3600 seconds, not '0.001'"),
        ("interval = nan\n", "config.ini [s] interval: must be between 0.1 and 3600 seconds, not 'nan'"),
        ("finder = duchamp\n", "config.ini [s] finder: must be one of sofia, bdsf, not 'duchamp'"),
        ("env = NOVALUE\n", "config.ini [s] env: entries must be KEY=VALUE, not 'NOVALUE'"),
        ("env = A=b=c\n", "config.ini [s] env: A: a value may not contain '='"),
        ("name = my_run\n", "config.ini [s] name: must be 1-40 letters, digits or '-'"),
        ("image = sofia latest\n", "config.ini [s] image: must be a registry image"),
        ("overlap = -3\n", "config.ini [s] overlap: must be PIXELS or SPATIAL,SPECTRAL"),
        ("split = 2,2\n", "config.ini [s] split: must be auto, NX,NY,NZ"),
        ("profile_log = logs/\n", "config.ini [s] profile_log: must name a file"),
        ("corse = 4\n", "config.ini [s] corse: unknown key"),
    ],
)
def test_errors_name_file_section_and_key(tmp_path, extra, message):
    path = write_config(tmp_path, BASE + extra)
    with pytest.raises(UsageError) as caught:
        load_run_config(path, section="s", kind="task")
    assert str(caught.value).startswith(message)
    assert caught.value.key == extra.split(" = ")[0]  # what a form marks, without reading the message
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_split_needs_the_parallel_command(tmp_path):
    path = write_config(tmp_path, BASE + "split = auto\n")
    with pytest.raises(UsageError, match=r"\[s\] split: splitting a cube needs the parallel command"):
        load_run_config(path, section="s", kind="task")


def test_split_needs_a_template_parameter_file(tmp_path):
    path = write_config(tmp_path, "[p]\nvos_dir = /arc/x\nimage_file = /arc/x/c.fits\nsplit = auto\n")
    with pytest.raises(UsageError, match=r"\[p\] parameter_file: is required with split"):
        load_run_config(path, section="p", kind="parallel")


def test_vos_dir_must_be_on_arc(tmp_path):
    path = write_config(tmp_path, BASE.replace("vos_dir = /arc/projects/p", "vos_dir = /home/me/out"))
    with pytest.raises(UsageError, match=r"\[s\] vos_dir: must be a folder under /arc/"):
        load_run_config(path, section="s", kind="task")


def test_arc_uri_form_of_vos_dir_is_accepted(tmp_path):
    path = write_config(tmp_path, BASE.replace("vos_dir = /arc/projects/p", "vos_dir = arc:projects/p"))
    assert load_run_config(path, section="s", kind="task").vos_dir == "/arc/projects/p"


def test_missing_required_key_and_missing_local_file_are_named(tmp_path):
    path = write_config(tmp_path, "[sofia-task]\nvos_dir = /arc/x\nimage_file = /arc/x/c.fits\n")
    with pytest.raises(UsageError, match=r"config.ini \[sofia-task\] parameter_file: is required") as caught:
        load_run_config(path)
    assert caught.value.key == "parameter_file"
    path = write_config(tmp_path, "[sofia-task]\nvos_dir = /arc/x\nimage_file = /arc/x/c.fits\nparameter_file = gone.par\n")
    with pytest.raises(UsageError, match=rf"\[sofia-task\] parameter_file: no such file: {tmp_path}/gone.par"):
        load_run_config(path)


def test_missing_file_section_and_unparsable_file(tmp_path):
    with pytest.raises(NotFound, match="no such configuration file"):
        load_run_config(tmp_path / "nope.ini")
    path = write_config(tmp_path, BASE)
    with pytest.raises(UsageError, match=r"config.ini: no \[sofia-parallel\] section \(sections found: \[s\]\)") as caught:
        load_run_config(path, kind="parallel")
    assert caught.value.key is None  # about the file, not one key
    path = write_config(tmp_path, "vos_dir = /arc/x\n")
    with pytest.raises(UsageError, match=r"^config.ini line 1: .vos_dir = /arc/x. comes before any \[section\]$"):
        load_run_config(path)


def test_storage_paths_are_put_on_the_runs_site_and_local_ones_stay(tmp_path):
    (tmp_path / "job.py").write_text("print(1)\n")
    path = write_config(
        tmp_path,
        "[c]\nkind = command\nvos_dir = arc:home/me/runs\nimage = images.canfar.net/srcnet/sofia-task:2.5.0\n"
        "command = python3 job.py\ninputs = job.py /arc/home/me/table.csv /cavern/home/me/extra.txt\n",
    )
    config = load_run_config(path, section="c")
    assert config.vos_dir == "/arc/home/me/runs"  # arc: is /arc
    mapped = sites.Site("s", "https://s/skaha/v1", sites.CAVERN, arc_maps_to="/cavern/home/me/arc")
    on_site = config.on_site(mapped.storage_path)
    assert on_site.vos_dir == "/cavern/home/me/arc/home/me/runs"
    assert on_site.inputs == (str(tmp_path / "job.py"), "/cavern/home/me/arc/home/me/table.csv", "/cavern/home/me/extra.txt")
    unmapped = sites.Site("s", "https://s/skaha/v1", sites.CAVERN)
    with pytest.raises(UsageError, match=r"^config.ini \[c\] vos_dir: '/arc/home/me/runs' is under /arc, which site s") as caught:
        config.on_site(unmapped.storage_path)
    assert caught.value.key == "vos_dir"
    on_arc = sites.Site("a", None, sites.ARC)
    with pytest.raises(UsageError, match=r"^config.ini \[c\] inputs: '/cavern/home/me/extra.txt' is under /cavern, which site a"):
        config.on_site(on_arc.storage_path)
