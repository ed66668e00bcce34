"""Merging split-run catalogues: cut copies dropped, overlap duplicates resolved, one row per source."""

import csv
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.fits import CubeShape
from srcnet_tui.core.runs.merge import TaskCatalogue, merge_catalogues, merge_split_run, read_catalogue, write_merged
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs, TaskSpec
from srcnet_tui.core.runs.split import Region, grid_regions

SOFIA_COLUMNS = [("name", "char"), ("id", "long"), ("x", "double"), ("y", "double"), ("z", "double"),
                 ("x_min", "long"), ("x_max", "long"), ("y_min", "long"), ("y_max", "long"),
                 ("z_min", "long"), ("z_max", "long"), ("f_sum", "double"), ("flag", "long")]  # fmt: skip


def write_sofia_xml(path: Path, rows: list[dict]) -> None:
    """A catalogue laid out the way SoFiA-2's Catalog_save writes its VOTable."""
    array = ' arraysize="*"'
    fields = "".join(
        f'\t\t\t<FIELD datatype="{kind}" name="{name}" unit="" ucd=""{array if kind == "char" else ""}/>\n'
        for name, kind in SOFIA_COLUMNS
    )
    body = "".join(
        "\t\t\t\t\t<TR>\n" + "".join(f"\t\t\t\t\t\t<TD>{row[name]}</TD>\n" for name, _ in SOFIA_COLUMNS) + "\t\t\t\t\t</TR>\n"
        for row in rows
    )
    path.write_text(
        '<?xml version="1.0" ?>\n<VOTABLE version="1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n\t<RESOURCE>\n\t\t<TABLE name="SoFiA source catalogue">\n'
        f"{fields}\t\t\t<DATA>\n\t\t\t\t<TABLEDATA>\n{body}\t\t\t\t</TABLEDATA>\n\t\t\t</DATA>\n\t\t</TABLE>\n"
        "\t</RESOURCE>\n</VOTABLE>\n"
    )


def write_sofia_ascii(path: Path, rows: list[dict]) -> None:
    """A catalogue laid out the way SoFiA-2 writes ``_cat.txt`` (three '#' header rows, quoted names)."""
    width = 14
    numbers = "".join(f"{i:>{width}}" for i in range(1, len(SOFIA_COLUMNS) + 1))
    names = "".join(f"{name:>{width}}" for name, _ in SOFIA_COLUMNS)
    units = "".join(f"{'-':>{width}}" for _ in SOFIA_COLUMNS)
    lines = ["# SoFiA source catalogue", "# Creator: SoFiA 2.6.0", "#", "# Header rows:", "#   1 = column number",
             "#   2 = parameter name", "#   3 = parameter unit", "#", f"#{numbers}", f"#{names}", f"#{units}", ""]  # fmt: skip
    for row in rows:
        cells = [f'"{row["name"]}"'] + [f"{row[name]:>{width}}" for name, _ in SOFIA_COLUMNS[1:]]
        lines.append(" " + " ".join(cells))
    path.write_text("\n".join(lines) + "\n")


def observe(source: dict, region: Region, rng: random.Random, number: int) -> dict | None:
    """What a task searching ``region`` reports for a true source: clipped to the region, jittered."""
    lo = [max(source["bbox"][2 * a], region.axis(a)[0]) for a in range(3)]
    hi = [min(source["bbox"][2 * a + 1], region.axis(a)[1]) for a in range(3)]
    if any(l > h for l, h in zip(lo, hi)):
        return None
    clipped = any(lo[a] != source["bbox"][2 * a] or hi[a] != source["bbox"][2 * a + 1] for a in range(3))
    touches = [lo[a] == region.axis(a)[0] or hi[a] == region.axis(a)[1] for a in range(3)]
    centre = [(l + h) / 2 + (rng.uniform(-0.3, 0.3) if not clipped else 0) for l, h in zip(lo, hi)]
    return {
        "name": f"SoFiA J{number:06d}", "id": number, "x": centre[0], "y": centre[1], "z": centre[2],
        "x_min": lo[0], "x_max": hi[0], "y_min": lo[1], "y_max": hi[1], "z_min": lo[2], "z_max": hi[2],
        "f_sum": source["flux"], "flag": (1 if touches[0] or touches[1] else 0) | (2 if touches[2] else 0),
    }  # fmt: skip


def true_sources(rng: random.Random, shape, count: int, max_size: int, separation: float) -> list[dict]:
    sources = []
    while len(sources) < count:
        centre = [rng.uniform(0, n - 1) for n in shape]
        if any(max(abs(a - b) for a, b in zip(centre, s["centre"])) < separation for s in sources):
            continue
        half = [rng.randint(0, max_size // 2) for _ in range(3)]
        bbox = []
        for axis in range(3):
            bbox += [max(0, round(centre[axis]) - half[axis]), min(shape[axis] - 1, round(centre[axis]) + half[axis])]
        sources.append({"centre": centre, "bbox": bbox, "flux": float(len(sources) + 1)})  # flux identifies the source
    return sources


def split_run_catalogues(folder: Path, shape, counts, overlap, sources, rng) -> list[TaskCatalogue]:
    catalogues = []
    for task, region in enumerate(grid_regions(shape, counts, overlap), start=1):
        rows = [row for n, s in enumerate(sources, 1) if (row := observe(s, region, rng, n))]
        path = folder / (f"run_{task:03d}_cat.xml" if task % 2 else f"run_{task:03d}_cat.txt")
        (write_sofia_xml if task % 2 else write_sofia_ascii)(path, rows)
        catalogues.append(TaskCatalogue(task, region, path))
    return catalogues


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.sampled_from([(2, 2, 1), (3, 1, 2), (2, 2, 2), (1, 1, 1)]))
def test_merge_keeps_exactly_one_row_per_true_source(tmp_path_factory, seed, counts):
    rng = random.Random(seed)
    shape, overlap = (160, 140, 90), (20, 16)
    sources = true_sources(rng, shape, count=40, max_size=10, separation=8.0)  # smaller than the overlap
    folder = tmp_path_factory.mktemp("cats")
    catalogues = split_run_catalogues(folder, shape, counts, overlap, sources, rng)
    result = merge_catalogues(catalogues, shape)
    assert len(result.rows) == len(sources)
    assert sorted(row["f_sum"] for row in result.rows) == sorted(s["flux"] for s in sources)
    assert result.read == len(result.rows) + result.dropped_at_edges + result.dropped_duplicates
    for row in result.rows:
        truth = next(s for s in sources if s["flux"] == row["f_sum"])
        assert max(abs(row[k] - c) for k, c in zip("xyz", truth["centre"])) < 6
        region = next(c.region for c in catalogues if c.task == row["task"])
        assert region.x_min - 0.5 <= row["x"] <= region.x_max + 0.5 and region.z_min - 0.5 <= row["z"] <= region.z_max + 0.5


def seen_whole_somewhere(source: dict, regions: list[Region], shape) -> bool:
    """Whether some region holds the source without any inner region edge touching it."""
    for region in regions:
        inner_ok = all(
            (region.axis(a)[0] == 0 or source["bbox"][2 * a] > region.axis(a)[0])
            and (region.axis(a)[1] == shape[a] - 1 or source["bbox"][2 * a + 1] < region.axis(a)[1])
            for a in range(3)
        )
        if inner_ok:
            return True
    return False


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.sampled_from([(2, 2, 1), (3, 1, 2), (2, 2, 2), (3, 3, 1)]))
def test_sources_wider_than_the_overlap_are_kept_once_and_flagged(tmp_path_factory, seed, counts):
    rng = random.Random(seed)
    shape, overlap = (200, 180, 60), (12, 8)
    sources = true_sources(rng, shape, count=14, max_size=40, separation=42.0)  # many wider than the overlap
    folder = tmp_path_factory.mktemp("cats")
    catalogues = split_run_catalogues(folder, shape, counts, overlap, sources, rng)
    result = merge_catalogues(catalogues, shape)
    assert sorted(row["f_sum"] for row in result.rows) == sorted(s["flux"] for s in sources)  # none lost, none twice
    regions = [c.region for c in catalogues]
    for row in result.rows:
        truth = next(s for s in sources if s["flux"] == row["f_sum"])
        assert (row["merge_flag"] == "cut") == (not seen_whole_somewhere(truth, regions, shape))
    assert result.flagged_at_edges == sum(row["merge_flag"] == "cut" for row in result.rows)
    assert result.read == len(result.rows) + result.dropped_at_edges + result.dropped_duplicates + result.stitched
    assert [row["id"] for row in result.rows] == list(range(1, len(result.rows) + 1))
    written = write_merged(result, folder / "merged.csv").read_bytes()
    assert b"\r" not in written and written.count(b"\n") == len(result.rows) + 1


def test_a_blend_and_its_components_are_one_source_kept_from_the_better_task(tmp_path):
    """Task 1 saw two close sources as one blend; task 2, with more context, saw them apart."""
    left, right = Region(0, 99, 0, 99, 0, 9), Region(60, 199, 0, 99, 0, 9)
    base = {"name": "s", "z": 4.0, "z_min": 2, "z_max": 6, "flag": 0}
    blend = {**base, "id": 1, "x": 80.0, "y": 50.0, "x_min": 72, "x_max": 88, "y_min": 45, "y_max": 55, "f_sum": 3.0}
    parts = [
        {**base, "id": 1, "x": 76.0, "y": 50.0, "x_min": 72, "x_max": 79, "y_min": 45, "y_max": 55, "f_sum": 1.0},
        {**base, "id": 2, "x": 85.0, "y": 50.0, "x_min": 82, "x_max": 88, "y_min": 46, "y_max": 54, "f_sum": 2.0},
    ]
    write_sofia_xml(tmp_path / "a.xml", [blend])  # 80 is 19 px from left's inner edge x=99
    write_sofia_xml(tmp_path / "b.xml", parts)  # 76 and 85 are 16 and 25 px from right's inner edge x=60
    catalogues = [TaskCatalogue(1, left, tmp_path / "a.xml"), TaskCatalogue(2, right, tmp_path / "b.xml")]
    result = merge_catalogues(catalogues, (200, 100, 10))
    assert sorted(row["f_sum"] for row in result.rows) == [1.0, 2.0]  # never the blend beside a component
    assert (result.dropped_duplicates, result.merged) == (1, 1)


def test_sources_close_in_position_but_apart_in_extent_are_both_kept(tmp_path):
    """Two tasks' copies 2 px apart whose boxes barely touch are two sources, not one."""
    left, right = Region(0, 99, 0, 99, 0, 9), Region(60, 199, 0, 99, 0, 9)
    base = {"name": "s", "z": 4.0, "z_min": 0, "z_max": 9, "flag": 0, "y_min": 40, "y_max": 60}
    write_sofia_xml(tmp_path / "a.xml", [{**base, "id": 1, "x": 79.0, "y": 50.0, "x_min": 70, "x_max": 80, "f_sum": 1.0}])
    write_sofia_xml(tmp_path / "b.xml", [{**base, "id": 1, "x": 81.0, "y": 50.0, "x_min": 80, "x_max": 90, "f_sum": 2.0}])
    catalogues = [TaskCatalogue(1, left, tmp_path / "a.xml"), TaskCatalogue(2, right, tmp_path / "b.xml")]
    result = merge_catalogues(catalogues, (200, 100, 10))
    assert sorted(row["f_sum"] for row in result.rows) == [1.0, 2.0]


def test_source_at_the_cube_edge_is_kept_though_flagged(tmp_path):
    region_a, region_b = Region(0, 59, 0, 49, 0, 9), Region(40, 99, 0, 49, 0, 9)
    at_cube_edge = {"name": "a", "id": 1, "x": 10.0, "y": 0.5, "z": 4.0, "x_min": 8, "x_max": 12, "y_min": 0,
                    "y_max": 2, "z_min": 3, "z_max": 5, "f_sum": 1.0, "flag": 1}  # fmt: skip
    write_sofia_xml(tmp_path / "a.xml", [at_cube_edge])
    write_sofia_xml(tmp_path / "b.xml", [])
    result = merge_catalogues(
        [TaskCatalogue(1, region_a, tmp_path / "a.xml"), TaskCatalogue(2, region_b, tmp_path / "b.xml")], (100, 50, 10)
    )
    assert [row["name"] for row in result.rows] == ["a"] and result.dropped_at_edges == 0


def test_flag_only_catalogue_drops_cut_copies_seen_whole_and_flags_the_rest(tmp_path):
    """Without bounding boxes, the edge flag and the nearest edge decide what is cut; positions match."""
    left, right = Region(0, 59, 0, 49, 0, 0), Region(40, 99, 0, 49, 0, 0)
    (tmp_path / "l.csv").write_text("id,x,y,f_sum,flag\n1,58.5,20,7.0,1\n2,45.0,30,3.0,0\n3,10,0.5,9.0,1\n4,58,40,5.0,1\n")
    (tmp_path / "r.csv").write_text("id,x,y,f_sum,flag\n1,56.0,20.2,7.5,0\n2,45.4,30.1,3.1,0\n")
    result = merge_catalogues(
        [TaskCatalogue(1, left, tmp_path / "l.csv"), TaskCatalogue(2, right, tmp_path / "r.csv")], (100, 50, 1)
    )
    kept = sorted((row["task"], row["task_id"], row["merge_flag"]) for row in result.rows)
    # 1/1 is cut by the inner edge x=59 and right saw it whole → right's copy; 2 is in both → left's
    # copy, 14.6 px from the inner edge x=59 vs right's 5.4 px from x=40; 1/3 touches the cube's edge
    # y=0 → kept whole; 1/4 is cut and nobody saw it whole → kept, flagged.
    assert kept == [(1, 2, ""), (1, 3, ""), (1, 4, "cut"), (2, 1, "")]
    assert (result.dropped_at_edges, result.dropped_duplicates, result.flagged_at_edges, result.merged) == (1, 1, 1, 2)
    assert sorted(row["id"] for row in result.rows) == [1, 2, 3, 4]


def test_close_pair_in_one_task_is_not_merged(tmp_path):
    region = Region(0, 99, 0, 99, 0, 0)
    (tmp_path / "a.csv").write_text("id,x,y,flag\n1,50,50,0\n2,51,50,0\n")
    result = merge_catalogues([TaskCatalogue(1, region, tmp_path / "a.csv")], (100, 100, 1))
    assert len(result.rows) == 2


def test_ascii_catalogue_is_read_with_quoted_names(tmp_path):
    row = {"name": "SoFiA J123456.7-012345", "id": 3, "x": 1.5, "y": 2.25, "z": 3.0, "x_min": 1, "x_max": 2,
           "y_min": 2, "y_max": 3, "z_min": 3, "z_max": 3, "f_sum": 4.5e-05, "flag": 0}  # fmt: skip
    write_sofia_ascii(tmp_path / "c_cat.txt", [row])
    columns, rows = read_catalogue(tmp_path / "c_cat.txt")
    assert columns == [name for name, _ in SOFIA_COLUMNS]
    assert rows == [row]


def test_bad_catalogues_are_refused_by_name(tmp_path):
    (tmp_path / "x_cat.txt").write_text("hello\n")
    with pytest.raises(UsageError, match=r"x_cat.txt: not a SoFiA catalogue"):
        read_catalogue(tmp_path / "x_cat.txt")
    (tmp_path / "y_cat.xml").write_text("<VOTABLE><oops></VOTABLE>")
    with pytest.raises(UsageError, match=r"y_cat.xml: not a valid VOTable"):
        read_catalogue(tmp_path / "y_cat.xml")
    with pytest.raises(UsageError, match=r"gone_cat.xml: cannot read catalogue"):
        read_catalogue(tmp_path / "gone_cat.xml")


def test_merged_catalogue_written_as_csv_and_votable(tmp_path):
    rng = random.Random(7)
    shape = (100, 80, 30)
    sources = true_sources(rng, shape, count=12, max_size=6, separation=8.0)
    catalogues = split_run_catalogues(tmp_path, shape, (2, 1, 1), (15, 15), sources, rng)
    result = merge_catalogues(catalogues, shape)
    with write_merged(result, tmp_path / "merged.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and rows[0].keys() == set(result.columns) and "task" in rows[0]
    columns, votable_rows = read_catalogue(write_merged(result, tmp_path / "merged.xml"))
    assert columns == result.columns and len(votable_rows) == 12
    assert not list(tmp_path.glob("*.tmp"))


def test_merge_split_run_from_the_stored_plan_lists_tasks_without_catalogue(tmp_path):
    rng = random.Random(3)
    shape = (100, 80, 30)
    sources = [s for s in true_sources(rng, shape, count=10, max_size=6, separation=8.0) if s["centre"][0] < 40]
    regions = grid_regions(shape, (2, 1, 1), (15, 15))
    folders = {1: tmp_path / "task-001", 2: tmp_path / "task-002"}
    folders[1].mkdir()
    folders[2].mkdir()  # task 2 found nothing: SoFiA wrote no catalogue
    write_sofia_xml(
        folders[1] / "r_001_cat.xml", [row for n, s in enumerate(sources, 1) if (row := observe(s, regions[0], rng, n))]
    )
    plan = RunPlan("r", "split", {}, "img:1", 0, {}, "/arc/r", "/arc/cube.fits", (), cube=CubeShape(100, 80, 30, -32))
    tasks = [
        TaskSpec(i, f"t-{i}", region, "/arc/a.par", 1, 1, [], TaskOutputs(f"/arc/r/task-{i:03d}", f"r_{i:03d}", "p.txt",
                 "f.log", (f"r_{i:03d}_cat.xml", f"r_{i:03d}_cat.txt")), "img:1")
        for i, region in enumerate(regions, start=1)
    ]  # fmt: skip
    result = merge_split_run(plan, tasks, lambda task: folders[task.index], tmp_path / "merged.csv")
    assert len(result.rows) == len(sources) and result.missing == [2]
    assert result.to_dict()["tasks_without_catalogue"] == [2]
    assert (tmp_path / "merged.csv").exists()
