"""Plans: task, parallel and split runs; session names and arguments Skaha can carry; resources."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import load_run_config
from srcnet_tui.core.runs.fits import read_cube_shape
from srcnet_tui.core.runs.plan import MAX_NAME, plan_run
from srcnet_tui.core.runs.split import GIB, grid_regions
from srcnet_tui.core.skaha import LaunchSpec

RUN = "20261121-051500-ab12"
SEED = FIXTURES / "seed"
CONTEXT = {
    "cores": {"default": 2, "defaultLimit": 16, "options": [1, 2, 4, 8, 16]},
    "memoryGB": {"default": 8, "defaultLimit": 192, "options": [1, 2, 4, 8, 16, 32, 64, 128, 192]},
    "gpus": {"options": [1, 2, 4]},
}
NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def assert_skaha_safe(plan):
    for task in plan.tasks:
        assert NAME_RE.fullmatch(task.name) and len(task.name) <= MAX_NAME
        assert task.cmd == "srcnet-task"
        assert all(arg and not any(ch.isspace() for ch in arg) and "$" not in arg for arg in task.args)
    assert len({t.name for t in plan.tasks}) == len(plan.tasks)
    assert len({t.outputs.directory for t in plan.tasks}) == len(plan.tasks)
    json.dumps(plan.to_dict())


@pytest.fixture
def seed_dir(tmp_path):
    shutil.copy(SEED / "config.ini", tmp_path / "config.ini")
    shutil.copy(SEED / "sofia.par", tmp_path / "sofia.par")
    fits.PrimaryHDU(np.zeros((40, 60, 50), dtype=np.float32)).writeto(tmp_path / "sofia_test_datacube.fits")
    (tmp_path / "parameter_files").mkdir()
    for name in ("region_b.par", "region_a.par", "region_c.par", "notes.txt"):
        (tmp_path / "parameter_files" / name).write_text("input.region = 0,9,0,9,0,9\n")
    return tmp_path


def test_task_plan_from_the_seed(seed_dir):
    plan = plan_run(load_run_config(seed_dir / "config.ini"), RUN, context=CONTEXT)
    assert plan.run_kind == "task" and len(plan.tasks) == 1
    task = plan.tasks[0]
    base = "/arc/projects/WALLABY_test/canfar-sofia/tasks"
    assert task.index == 1 and task.name == f"sofia-task-{RUN}-001"
    assert (task.cores, task.ram_gb, task.region) == (2, 8, None)
    assert task.par_file == f"{base}/{RUN}/params/sofia.par"
    assert plan.input_data == f"{base}/sofia_test_datacube.fits"
    assert task.outputs.directory == f"{base}/{RUN}/task-001"
    assert task.outputs.filename == f"{RUN}_001"
    assert task.outputs.profile_log == "sofia_profile.txt"
    assert task.outputs.catalogues == (f"{RUN}_001_cat.xml", f"{RUN}_001_cat.txt")
    assert {(u.local.name, u.remote) for u in plan.uploads} == {
        ("sofia_test_datacube.fits", plan.input_data),
        ("sofia.par", task.par_file),
    }
    args = task.args
    assert args[args.index("--par") + 1] == task.par_file
    assert args[args.index("--data") + 1] == plan.input_data
    assert args[args.index("--threads") + 1] == "2"
    assert "--region" not in args
    assert task.outputs.summary == "sofia_profile.txt.summary.json"
    assert task.outputs.files[:3] == ("sofia_profile.txt", "sofia_profile.txt.summary.json", f"{RUN}_001_sofia.log")
    assert task.launch_spec() == LaunchSpec(
        name=task.name, image="images.canfar.net/srcnet/sofia-task:2.5.0", cmd="srcnet-task",
        args=task.args, env={}, cores=2, ram=8, gpus=None,
    )  # fmt: skip
    assert_skaha_safe(plan)


def test_dry_run_description_shows_defaults_uploads_and_tasks(seed_dir):
    lines = plan_run(load_run_config(seed_dir / "config.ini"), RUN).describe()
    assert lines[0].startswith(f"run {RUN}: task, 1 task(s), outputs in /arc/projects/WALLABY_test/canfar-sofia/tasks/{RUN}")
    assert "  cores = 2   (default)" in lines
    assert any(line.startswith("  upload ") and line.endswith("/params/sofia.par") for line in lines)
    assert (
        lines[-1]
        == f"  sofia-task-{RUN}-001: 2 cores, 8 GiB, /arc/projects/WALLABY_test/canfar-sofia/tasks/{RUN}/params/sofia.par"
    )


def test_parallel_plan_takes_par_files_sorted(seed_dir):
    plan = plan_run(load_run_config(seed_dir / "config.ini", kind="parallel"), RUN, context=CONTEXT)
    assert plan.run_kind == "parallel"
    assert [Path(t.par_file).name for t in plan.tasks] == ["region_a.par", "region_b.par", "region_c.par"]
    assert [t.index for t in plan.tasks] == [1, 2, 3]
    assert plan.input_data == "/arc/projects/WALLABY_test/mw/norma.image.fits"  # already on /arc: not uploaded
    assert all(u.local.suffix == ".par" for u in plan.uploads) and len(plan.uploads) == 3
    assert [t.outputs.profile_log for t in plan.tasks] == [f"sofia_profile_00{i}.txt" for i in (1, 2, 3)]
    assert all((t.cores, t.ram_gb) == (8, 32) for t in plan.tasks)
    assert_skaha_safe(plan)
    assert plan_run(load_run_config(seed_dir / "config.ini", kind="parallel"), RUN).to_dict()["tasks"] == plan.to_dict()["tasks"]


TWO_CORE_MACHINE = {"cores": {"options": [1, 2]}, "memoryGB": {"options": [1, 2, 4, 8, 16, 20]}, "gpus": {"options": []}}


def test_unwritten_resources_are_fitted_to_what_the_platform_offers_and_said_once(seed_dir):
    plan = plan_run(load_run_config(seed_dir / "config.ini", kind="parallel"), RUN, context=TWO_CORE_MACHINE)
    assert all((t.cores, t.ram_gb) == (2, 20) for t in plan.tasks)
    assert all(t.args[t.args.index("--threads") + 1] == "2" for t in plan.tasks)
    assert plan.adjustments == [
        "config.ini [sofia-parallel] cores: not set; the default 8 is not offered by the platform, "
        "so each task asks for 2, the largest it offers below that",
        "config.ini [sofia-parallel] ram: not set; the default 32 is not offered by the platform, "
        "so each task asks for 20, the largest it offers below that",
    ]
    settings = {key: (value, note) for key, value, note in plan.config.describe()}
    assert settings["cores"] == (2, "default 8 is not offered: the platform's largest below it")
    assert plan.to_dict()["config"]["fitted"] == {"cores": 8, "ram": 32}


def test_resources_the_user_wrote_are_checked_not_fitted(seed_dir):
    path = seed_dir / "config.ini"
    path.write_text(path.read_text() + "\ncores = 8\n")
    with pytest.raises(
        UsageError, match=r"config.ini \[sofia-parallel\] cores: 8 is not offered by the platform \(options: 1, 2\)"
    ):
        plan_run(load_run_config(path, kind="parallel"), RUN, context=TWO_CORE_MACHINE)


def test_an_offered_default_is_kept_as_it_is(seed_dir):
    plan = plan_run(load_run_config(seed_dir / "config.ini"), RUN, context=TWO_CORE_MACHINE)
    assert (plan.tasks[0].cores, plan.tasks[0].ram_gb, plan.adjustments) == (2, 8, [])


def test_parallel_plan_refuses_an_empty_folder(seed_dir):
    for path in (seed_dir / "parameter_files").glob("*.par"):
        path.unlink()
    with pytest.raises(UsageError, match=r"\[sofia-parallel\] parameter_file_dir: no \*.par files"):
        plan_run(load_run_config(seed_dir / "config.ini", kind="parallel"), RUN)


def split_config(folder: Path, shape_zyx, extra: str = "", bitpix_dtype=np.float32) -> Path:
    cube = folder / "cube.fits"
    fits.PrimaryHDU(np.zeros(shape_zyx, dtype=bitpix_dtype)).writeto(cube, overwrite=True)
    (folder / "template.par").write_text("scfind.enable = true\n")
    path = folder / "split.ini"
    path.write_text(
        f"[sofia-parallel]\nvos_dir = /arc/projects/p/split\nimage_file = cube.fits\nparameter_file = template.par\n{extra}"
    )
    return path


def test_split_plan_cuts_the_cube_from_its_header(tmp_path):
    path = split_config(tmp_path, (50, 100, 120), "split = 2,2,1\noverlap = 10,4\n")
    plan = plan_run(load_run_config(path, kind="parallel"), RUN, context=CONTEXT)
    assert plan.run_kind == "split" and plan.grid == (2, 2, 1)
    assert plan.cube.shape == (120, 100, 50)
    expected = grid_regions((120, 100, 50), (2, 2, 1), (10, 4))
    assert [t.region for t in plan.tasks] == expected
    assert len({t.par_file for t in plan.tasks}) == 1  # one template, overrides per task
    for task in plan.tasks:
        assert task.args[task.args.index("--region") + 1] == str(task.region)
        assert task.ram_gb == 2  # 2.3 × ~1.2 MB + 1 GiB margin → the smallest offered option above it
    assert plan.to_dict()["tasks"][0]["region"] == str(expected[0])
    assert_skaha_safe(plan)


def test_without_overlap_a_split_sofia_run_takes_it_from_its_parameter_file_and_says_so(tmp_path):
    path = split_config(tmp_path, (60, 200, 200), "split = 2,2,1\n")
    par = "linker.maxSizeXY = 110\nlinker.maxSizeZ = 20  # channels\nscfind.kernelsXY = 0, 3, 6\nscfind.kernelsZ = 0, 3, 7, 15\n"
    (tmp_path / "template.par").write_text(par)
    plan = plan_run(load_run_config(path, kind="parallel"), RUN, context=CONTEXT)
    assert plan.config.overlap == (116, 35)
    assert plan.recorded().overlap == (116, 35)
    assert plan.tasks[0].region == grid_regions((200, 200, 60), (2, 2, 1), (116, 35))[0]
    line = "overlap 116,35 from template.par: linker.maxSizeXY 110 + widest scfind.kernelsXY 6; linker.maxSizeZ 20 + widest scfind.kernelsZ 15"
    assert line in plan.adjustments and any(line in text for text in plan.describe())

    path.write_text(path.read_text() + "overlap = 40\n")
    assert plan_run(load_run_config(path, kind="parallel"), RUN, context=CONTEXT).config.overlap == (40, 40)  # written: kept
    (tmp_path / "template.par").write_text("linker.maxSizeXY = 0\nlinker.maxSizeZ = wide\n")
    path.write_text(path.read_text().replace("overlap = 40\n", ""))
    with pytest.raises(
        UsageError, match=r"^split.ini \[sofia-parallel\] parameter_file: .*template.par: linker.maxSizeZ must be a number"
    ):
        plan_run(load_run_config(path, kind="parallel"), RUN, context=CONTEXT)


def test_an_unlimited_source_size_keeps_the_default_overlap_and_says_why(tmp_path):
    path = split_config(tmp_path, (60, 200, 200), "split = 2,2,1\n")
    (tmp_path / "template.par").write_text("linker.maxSizeXY = 0\nlinker.maxSizeZ = 10\nscfind.kernelsZ = 3\n")
    plan = plan_run(load_run_config(path, kind="parallel"), RUN, context=CONTEXT)
    assert plan.config.overlap == (65, 13)
    assert "overlap 65,13 from template.par: linker.maxSizeXY = 0 (no limit), so the default 65; " in plan.adjustments[-1]


def test_split_ram_follows_region_size_and_context(tmp_path):
    path = split_config(tmp_path, (10, 10, 10), "split = 1,1,1\n")
    config = load_run_config(path, kind="parallel")
    header = read_cube_shape(tmp_path / "cube.fits")
    big = type(header)(nx=2048, ny=2048, nz=1024, bitpix=-32)  # 16 GiB region → ~37.8 GiB needed
    plan = plan_run(config, RUN, context=CONTEXT, read_header=lambda _path: big)
    assert plan.tasks[0].ram_gb == 64
    small_platform = {**CONTEXT, "memoryGB": {"options": [4, 8, 16, 32]}}
    with pytest.raises(UsageError) as caught:
        plan_run(config, RUN, context=small_platform, read_header=lambda _path: big)
    assert str(caught.value).startswith("split.ini [sofia-parallel] split: a region of 16.00 GiB needs about 37.8 GiB")
    assert "offers at most 32 GiB" in str(caught.value) and caught.value.key == "split"


def test_auto_split_fits_regions_into_the_largest_ram_offered(tmp_path):
    path = split_config(tmp_path, (10, 10, 10), "split = auto\n")
    config = load_run_config(path, kind="parallel")
    big = read_cube_shape(tmp_path / "cube.fits").__class__(nx=5851, ny=5851, nz=6668, bitpix=-32)
    context = {**CONTEXT, "memoryGB": {"options": [8, 16, 32]}}
    plan = plan_run(config, RUN, context=context, read_header=lambda _path: big)
    assert all(t.ram_gb <= 32 for t in plan.tasks)
    assert all(t.region.voxels() * 4 <= 12 * GIB for t in plan.tasks)
    assert plan.grid == (4, 4, 5)  # Team SoFiA's 80 SDC2 regions, found from the limits alone
    assert_skaha_safe(plan)


def test_explicit_ram_below_the_need_is_kept_with_a_warning(tmp_path):
    path = split_config(tmp_path, (10, 10, 10), "split = 1,1,1\nram = 1\n")
    big = read_cube_shape(tmp_path / "cube.fits").__class__(nx=1024, ny=1024, nz=1024, bitpix=-32)
    plan = plan_run(load_run_config(path, kind="parallel"), RUN, read_header=lambda _path: big)
    assert plan.tasks[0].ram_gb == 1
    assert plan.warnings and "1 GiB is less than the ~10.2 GiB" in plan.warnings[0]


def test_resources_not_offered_by_the_platform_are_refused_by_key(seed_dir):
    path = seed_dir / "config.ini"
    path.write_text(path.read_text().replace("cmd_file = run.sh", "cmd_file = run.sh\ncores = 3"))
    with pytest.raises(
        UsageError, match=r"config.ini \[sofia-task\] cores: 3 is not offered by the platform \(options: 1, 2, 4, 8, 16\)"
    ) as caught:
        plan_run(load_run_config(path), RUN, context=CONTEXT)
    assert caught.value.key == "cores"


def test_legacy_flat_context_is_understood(seed_dir):
    legacy = {"availableCores": [1, 2, 4], "availableRAM": [1, 2, 4, 16]}
    assert plan_run(load_run_config(seed_dir / "config.ini"), RUN, context=legacy).tasks[0].ram_gb == 4
    path = seed_dir / "config.ini"
    path.write_text(path.read_text().replace("cmd_file = run.sh", "cmd_file = run.sh\nram = 8"))
    with pytest.raises(UsageError, match=r"ram: 8 is not offered by the platform \(options: 1, 2, 4, 16\)"):
        plan_run(load_run_config(path), RUN, context=legacy)


def test_long_name_prefix_is_cut_to_fit_skaha(seed_dir):
    path = seed_dir / "config.ini"
    path.write_text(path.read_text().replace("cmd_file = run.sh", "cmd_file = run.sh\nname = " + "w" * 40))
    task = plan_run(load_run_config(path), RUN).tasks[0]
    assert len(task.name) == MAX_NAME and task.name.endswith(f"-{RUN}-001")


@pytest.mark.parametrize("bad_name", ["a b;touch pwned.par", "$(touch x).par", "`id`.par", "x'y.par", "tab\there.par"])
def test_parameter_file_with_spaces_or_shell_characters_is_refused_by_name(seed_dir, bad_name):
    (seed_dir / "parameter_files" / bad_name).write_text("")
    with pytest.raises(UsageError) as caught:
        plan_run(load_run_config(seed_dir / "config.ini", kind="parallel"), RUN)
    message = str(caught.value)
    assert message.startswith("config.ini [sofia-parallel] parameter_file_dir: ") and caught.value.key == "parameter_file_dir"
    assert repr(bad_name)[1:-1] in message and "cannot be passed to a session" in message
    assert not (seed_dir / "pwned.par").exists() and not (seed_dir / "x").exists()


def test_arc_input_with_a_space_is_refused(seed_dir):
    path = seed_dir / "config.ini"
    path.write_text(path.read_text().replace("/arc/projects/WALLABY_test/mw/norma.image.fits", "/arc/projects/my data/cube.fits"))
    with pytest.raises(UsageError, match=r"\[sofia-parallel\] image_file: '/arc/projects/my data/cube.fits' cannot be passed"):
        plan_run(load_run_config(path, kind="parallel"), RUN)


def test_run_id_must_fit_a_session_name(seed_dir):
    with pytest.raises(ValueError):
        plan_run(load_run_config(seed_dir / "config.ini"), "Run 1")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and "\x00" not in s and s not in (".", "..")))
def test_any_parameter_file_name_is_refused_or_survives_skahas_space_split(tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("any")
    params = folder / "params"
    params.mkdir()
    try:
        (params / f"{name}.par").write_text("")
    except (OSError, UnicodeEncodeError):
        return  # not a name this filesystem can hold
    (folder / "c.ini").write_text(f"[p]\nvos_dir = /arc/x\nimage_file = /arc/x/c.fits\nparameter_file_dir = {params}\n")
    try:
        plan = plan_run(load_run_config(folder / "c.ini", section="p", kind="parallel"), RUN)
    except UsageError as exc:
        assert "cannot be passed to a session" in str(exc)
        return
    for task in plan.tasks:
        assert " ".join(task.args).split(" ") == task.args  # Skaha's split gives back exactly these arguments
        assert not set("$`'\"\\;&|<>(){}*?!~#") & set("".join(task.args))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", fullmatch=True),
       st.from_regex(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", fullmatch=True))  # fmt: skip
def test_session_names_are_valid_for_any_prefix_and_run_id(seed_dir, prefix, run_id):
    path = seed_dir / "named.ini"
    path.write_text((seed_dir / "config.ini").read_text().replace("cmd_file = run.sh", f"name = {prefix}"))
    task = plan_run(load_run_config(path), run_id).tasks[0]
    assert NAME_RE.fullmatch(task.name) and len(task.name) <= MAX_NAME
    assert task.name.endswith(f"{run_id}-001")


def test_split_plan_names_an_unreadable_cube(tmp_path):
    from runs_workspace import make_unreadable

    path = split_config(tmp_path, (50, 100, 120), "split = 2,2,1\n")
    make_unreadable(tmp_path / "cube.fits")
    with pytest.raises(UsageError, match=r"\[sofia-parallel\] image_file: .*cannot read"):
        plan_run(load_run_config(path, kind="parallel"), RUN, context=CONTEXT)
