"""Products: what collect brings back, the clean policy (per-kind defaults, config globs), sizes as du prints them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from srcnet_tui.core.runs.collecting import collect
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.products import KEEP, REMOVE, Policy, classify, globs, human_size, totals
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs, TaskSpec
from srcnet_tui.core.runs.storage import LocalArc, StoredFile


def _plan(**settings) -> RunPlan:
    config = {"settings": {"finder": "sofia", **settings}}
    return RunPlan("r1", "task", config, "img", 0, {}, "/arc/p/r1", "/arc/p/cube.fits", ())


SOFIA_FILES = {
    "run.json": KEEP,
    "params/sofia.par": KEEP,
    "task-001/r1_001_cat.txt": KEEP,
    "task-001/r1_001_cat.xml": KEEP,
    "task-001/r1_001_mom0.fits": KEEP,
    "task-001/r1_001_mom1.fits": KEEP,
    "task-001/r1_001_sofia.log": KEEP,
    "task-001/sofia_profile.txt": KEEP,
    "task-001/sofia_profile.txt.summary.json": KEEP,
    "task-001/r1_001_filtered.fits": REMOVE,
    "task-001/r1_001_noise.fits": REMOVE,
    "task-001/r1_001_mask.fits": REMOVE,
    "task-001/r1_001_mask-raw.fits": REMOVE,
    "task-001/r1_001_cubelets/r1_001_3_mom0.fits": REMOVE,
    "task-001/something_new.dat": KEEP,
}


def test_sofia_defaults_keep_final_products_and_remove_cubes_masks_and_cubelets():
    policy = Policy.for_run(_plan())
    assert {name: policy.classify(name)[0] for name in SOFIA_FILES} == SOFIA_FILES
    assert "kept to be safe" in policy.classify("task-001/something_new.dat")[1]
    assert policy.classify("task-001/r1_001_cat.txt")[1] == "catalogue"
    assert policy.classify("task-001/sofia_profile.txt")[1] == "log"


def test_profile_logs_are_kept_as_such_whatever_the_config_named_them():
    policy = Policy.for_run(_plan(finder="bdsf", profile_log="profile.csv"))
    assert policy.classify("task-003/profile_003.csv") == (KEEP, "profile log")
    assert policy.classify("task-003/other.csv") == (KEEP, "no rule names it (kept to be safe)")


def test_config_globs_override_the_defaults_and_keep_wins_over_remove():
    policy = Policy.for_run(_plan(keep="*_cubelets/*_3_*", remove="*.log, *_mom1.fits, *_3_mom0.fits"))
    assert policy.classify("task-001/r1_001_cubelets/r1_001_3_mom0.fits") == (KEEP, "config keep")
    assert policy.classify("task-001/r1_001_cubelets/r1_001_4_mom0.fits")[0] == REMOVE
    assert policy.classify("task-001/r1_001_sofia.log") == (REMOVE, "config remove")
    assert policy.classify("task-001/r1_001_mom1.fits")[0] == REMOVE
    assert policy.classify("task-001/r1_001_mom0.fits")[0] == KEEP


def test_globs_are_read_from_a_comma_list_lines_or_a_list():
    assert globs("a, b\nc") == ["a", "b", "c"] and globs(["x", " y "]) == ["x", "y"]
    assert globs(None) == [] and globs("-") == []


def test_classify_skips_partial_transfers_and_totals_count_bytes():
    files = [StoredFile("task-001/a_mask.fits", 3000), StoredFile("task-001/.a_cat.txt.part-12", 5), StoredFile("run.json", 24)]
    products = classify("/arc/p/r1", files, Policy.for_run(_plan()))
    assert [p.path for p in products] == ["/arc/p/r1/task-001/a_mask.fits", "/arc/p/r1/run.json"]
    summary = totals(products)
    assert summary["remove"] == {"count": 1, "bytes": 3000, "human": "3.0K"}
    assert summary["total"]["bytes"] == 3024 and summary["keep"]["count"] == 1


DU_H = {0: "0", 1: "1", 1023: "1023", 1024: "1.0K", 1025: "1.1K", 1536: "1.5K", 2047: "2.0K", 10239: "10K"}
DU_H |= {10240: "10K", 10241: "11K", 102400: "100K", 1048575: "1.0M", 1048576: "1.0M", 1048577: "1.1M"}
DU_H |= {5000000: "4.8M", 10433331: "10M", 10485759: "10M", 999999999: "954M", 1073741823: "1.0G"}
"""What ``du -h --apparent-size`` printed for files of these sizes (GNU coreutils; the clean test runs du itself)."""


def test_human_sizes_are_the_ones_du_prints():
    assert {size: human_size(size) for size in DU_H} == DU_H


def _task(products: tuple[str, ...], index: int = 1) -> TaskRecord:
    n = f"{index:03d}"
    outputs = TaskOutputs(f"/arc/p/r1/task-{n}", f"r1_{n}", f"prof_{n}.txt", f"r1_{n}_x.log", (f"r1_{n}_cat.txt",), products)
    spec = TaskSpec(index, f"t-{n}", None, "/arc/p/r1/params/a.par", 1, 1, [], outputs, "img")
    return TaskRecord("r1", index, f"t-{n}", 1, "completed", f"s{index}", 0, None, None, None, None, spec)


def test_a_product_several_tasks_wrote_under_one_name_comes_back_once_per_task(tmp_path):
    storage = LocalArc(tmp_path / "arc")
    for index in (1, 2):
        folder = tmp_path / "arc" / "p" / "r1" / f"task-{index:03d}"
        folder.mkdir(parents=True)
        (folder / "image.fits.pybdsf.log").write_text(f"log of task {index}")
        (folder / f"prof_{index:03d}.txt").write_text("profile")
    local = tmp_path / "results"
    recorded = collect(storage, [_task((), 1), _task((), 2)], local)
    assert (local / "task-001" / "image.fits.pybdsf.log").read_text() == "log of task 1"
    assert (local / "task-002" / "image.fits.pybdsf.log").read_text() == "log of task 2"
    assert (local / "prof_001.txt").is_file() and not (local / "image.fits.pybdsf.log").exists()
    assert all(
        Path(c.path).read_bytes() == Path(str(c.source).replace("/arc", str(tmp_path / "arc"), 1)).read_bytes() for c in recorded
    )


def test_collect_brings_back_what_the_products_globs_name_and_records_checksums(tmp_path):
    storage = LocalArc(tmp_path / "arc")
    folder = tmp_path / "arc" / "p" / "r1" / "task-001"
    folder.mkdir(parents=True)
    for name in ("prof_001.txt", "r1_001_x.log", "r1_001_cat.txt", "out.csv", "notes.md", "big.fits", ".tmp.part-1"):
        (folder / name).write_text(name)
    everything_small = tmp_path / "a"
    collect(storage, [_task(())], everything_small)
    assert {p.name for p in everything_small.iterdir()} == {
        "prof_001.txt",
        "r1_001_x.log",
        "r1_001_cat.txt",
        "out.csv",
        "notes.md",
        "checksums.json",
    }

    only_globs = tmp_path / "b"
    recorded = collect(storage, [_task(("*.csv", "big.*"))], only_globs)
    assert {p.name for p in only_globs.iterdir()} == {
        "prof_001.txt",
        "r1_001_x.log",
        "r1_001_cat.txt",
        "out.csv",
        "big.fits",
        "checksums.json",
    }
    by_name = {Path(c.path).name: c for c in recorded}
    assert by_name["out.csv"].sha256 == hashlib.sha256(b"out.csv").hexdigest()
    assert by_name["out.csv"].source == "/arc/p/r1/task-001/out.csv"
    assert json.loads((only_globs / "checksums.json").read_text())["collected"] == [c.to_dict() for c in recorded]
