"""Merge the catalogues of a split run into one, one row per source, losing none.

Neighbouring regions share an overlap (``config.DEFAULT_OVERLAP``), so a source near a cut is seen
by two (or, at corners, up to eight) tasks, whole by some and cut by others. The rules:

1. **A copy is cut** when its pixels reach an edge of its region that lies *inside* the cube (not a
   cube edge). With bounding-box columns (``x_min`` … ``z_max``, SoFiA-2 and the PyBDSF driver) this
   is exact; without them, a copy flagged as touching an edge (SoFiA flag bit 1 spatial, 2 spectral)
   is cut when the nearest region edge along that kind of axis is an inner one.
2. **Copies are taken best first**: whole copies before cut ones; among whole copies the one
   furthest from its region's inner edges (the task that saw most context around it); among cut
   copies the one holding most of the source (``n_pix``, else its box's volume).
3. **A copy is dropped when it is the same source as a copy already kept from another task**: their
   boxes share at least half of the smaller box (so a blend and one of its components are one
   source), or, without boxes, their positions lie within ``tolerance``. Copies from the same task
   never exclude each other (SoFiA already separated them).

So a source some region sees whole is kept once from that region, and a source wider than the
overlap, cut in every region that holds it, is kept once from the region holding most of it and
marked ``merge_flag = cut`` — never dropped silently; its position and box are stitched from all its
pieces (:func:`_stitched_extent`), the other columns are those of the piece kept. Merged rows get fresh ids ``1..N`` (the task's
own id stays in ``task_id``) and the task they came from in ``task``; the result counts what was
dropped, merged and flagged (:func:`merge_summary`).

Positions are whole-cube pixels: ``srcnet-task`` sets ``parameter.offset=true`` for split tasks and
the PyBDSF driver writes whole-image pixels. Reads SoFiA-2's VOTable (``_cat.xml``) and ASCII
(``_cat.txt``) catalogues and the PyBDSF driver's CSV (``_cat.csv``); writes CSV with LF line ends,
or a VOTable when the output name ends in ``.xml`` (that needs astropy).
"""

from __future__ import annotations

import csv
import math
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.spec import RunPlan, TaskSpec
from srcnet_tui.core.runs.split import Region

SPATIAL_EDGE, SPECTRAL_EDGE = 1, 2  # SoFiA-2 flag bits
DEFAULT_TOLERANCE = (3.0, 3.0)
"""Pixels, channels: SDC2's TOPCAT match used 10.5″ and 1.2 MHz, about 3.5 pixels and 4 channels there."""
BBOX_COLUMNS = ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max")
TASK_COLUMN = "task"
ID_COLUMN, TASK_ID_COLUMN = "id", "task_id"
MERGE_FLAG_COLUMN, CUT_FLAG = "merge_flag", "cut"
SAME_SOURCE_FRACTION = 0.5
"""Two copies are one source when their boxes share at least this fraction of the smaller box."""
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class TaskCatalogue:
    """The catalogue one task wrote, and the region it searched."""

    task: int
    region: Region
    path: Path


@dataclass
class MergeResult:
    columns: list[str]
    rows: list[dict]
    read: int = 0
    dropped_at_edges: int = 0  # cut copies of sources another task saw whole
    dropped_duplicates: int = 0  # whole copies of sources another task saw better
    flagged_at_edges: int = 0  # sources cut in every region holding them: kept from the one holding most
    merged: int = 0  # kept sources that stand for copies from other tasks
    stitched: int = 0  # further pieces of the flagged sources, folded into their position and box
    missing: list[int] = field(default_factory=list)  # tasks without a catalogue (e.g. no sources)

    def to_dict(self) -> dict:
        return {
            "sources": len(self.rows),
            "read": self.read,
            "dropped_at_edges": self.dropped_at_edges,
            "dropped_duplicates": self.dropped_duplicates,
            "flagged_at_edges": self.flagged_at_edges,
            "merged": self.merged,
            "stitched_pieces": self.stitched,
            "tasks_without_catalogue": list(self.missing),
        }


def merge_summary(merged: dict) -> str:
    """One line of what a merge (``MergeResult.to_dict()``) kept, dropped, merged and flagged, and why."""
    text = (
        f"{merged['sources']} sources from {merged['read']} rows: {merged.get('merged', 0)} seen by several tasks "
        f"and kept once ({merged['dropped_duplicates']} duplicate copies and {merged['dropped_at_edges']} copies "
        f"cut by a region edge dropped, each seen whole by another task)"
    )
    flagged = merged.get("flagged_at_edges", 0)
    if flagged:
        text += (
            f"; {flagged} cut in every region holding them, kept from the region holding most with "
            f"{merged.get('stitched_pieces', 0)} further pieces stitched in, flagged merge_flag=cut"
        )
    missing = merged.get("tasks_without_catalogue") or []
    if missing:
        text += f"; {len(missing)} tasks without a catalogue"
    return text


# --- reading -------------------------------------------------------------------------------------


def read_catalogue(path: str | Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of a SoFiA XML/ASCII or PyBDSF-driver CSV catalogue; UsageError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read catalogue ({exc.strerror})") from None
    if path.suffix == ".xml" or text.lstrip().startswith("<?xml") or "<VOTABLE" in text[:1000]:
        return _read_votable(path, text)
    if path.suffix == ".csv":
        return _read_csv(path, text)
    return _read_sofia_ascii(path, text)


def _read_votable(path: Path, text: str) -> tuple[list[str], list[dict]]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise UsageError(f"{path}: not a valid VOTable ({exc})") from None
    table = next((el for el in root.iter() if _local(el.tag) == "TABLE"), None)
    if table is None:
        raise UsageError(f"{path}: no TABLE in the VOTable")
    fields = [(f.get("name", ""), f.get("datatype", "char")) for f in table.iter() if _local(f.tag) == "FIELD"]
    rows = []
    for tr in (el for el in table.iter() if _local(el.tag) == "TR"):
        cells = [td.text or "" for td in tr if _local(td.tag) == "TD"]
        rows.append({name: _typed(value, kind) for (name, kind), value in zip(fields, cells)})
    return [name for name, _ in fields], rows


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _typed(value: str, datatype: str):
    value = value.strip()
    if datatype in ("long", "int", "short", "unsignedByte"):
        return int(value)
    if datatype in ("double", "float"):
        return float(value)
    return value


def _read_sofia_ascii(path: Path, text: str) -> tuple[list[str], list[dict]]:
    """SoFiA's ASCII catalogue: three '#' header rows (numbers, names, units) above the data."""
    lines = text.splitlines()
    names = None
    for i, line in enumerate(lines[:-1]):
        numbers = line.lstrip("#").split()
        if line.startswith("#") and numbers and numbers == [str(n) for n in range(1, len(numbers) + 1)]:
            names = [name.strip('"') for name in lines[i + 1].lstrip("#").split()]
            break
    if not names:
        raise UsageError(f"{path}: not a SoFiA catalogue (no column header rows)")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        values = [quoted if quoted else _number(bare) for quoted, bare in _TOKEN.findall(line)]
        if len(values) != len(names):
            raise UsageError(f"{path}:{number}: {len(values)} values for {len(names)} columns")
        rows.append(dict(zip(names, values)))
    return names, rows


def _read_csv(path: Path, text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    rows = [{key: _number(value) for key, value in row.items()} for row in reader]
    if not reader.fieldnames:
        raise UsageError(f"{path}: empty catalogue")
    return list(reader.fieldnames), rows


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            pass
    return text


# --- merging -------------------------------------------------------------------------------------


@dataclass
class _Copy:
    task: int
    region: Region
    row: dict
    position: tuple[float, float, float]
    bbox: tuple[int, int, int, int, int, int] | None  # whole-cube x_min, x_max, y_min, y_max, z_min, z_max
    cut: bool  # reaches an edge of its region that lies inside the cube: incomplete
    margin: float  # distance (pixels) to the nearest inner edge of its region
    order: int  # position in the input, to keep the output in task and catalogue order

    @property
    def size(self) -> float:
        """How much of the source this copy holds: its pixels, else its bounding box's volume."""
        if _is_number(self.row.get("n_pix")):
            return float(self.row["n_pix"])
        return float(math.prod(hi - lo + 1 for lo, hi in zip(self.bbox[::2], self.bbox[1::2]))) if self.bbox else 0.0

    def rank(self) -> tuple:
        """Better copies first: whole ones, furthest from inner edges; then cut ones holding most."""
        return (not self.cut, self.margin if not self.cut else self.size, -self.task, -self.order)


def merge_catalogues(
    catalogues: list[TaskCatalogue],
    cube_shape: tuple[int, int, int],
    *,
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
    missing: list[int] | None = None,
) -> MergeResult:
    """One row per source from the catalogues of a split run (see the module docstring)."""
    columns: list[str] = []
    copies: list[_Copy] = []
    for catalogue in sorted(catalogues, key=lambda c: c.task):
        names, rows = read_catalogue(catalogue.path)
        columns += [name for name in names if name not in columns]
        copies += [_copy(catalogue, row, cube_shape, order=len(copies) + n) for n, row in enumerate(rows)]
    kept, twins = _resolve_duplicates(copies, tolerance)
    kept.sort(key=lambda c: c.order)
    rows = [_output_row(number, copy, twins[id(copy)]) for number, copy in enumerate(kept, start=1)]
    kept_ids = {id(c) for c in kept}
    stitched = sum(len(twins[id(c)]) for c in kept if c.cut)
    dropped = [c for c in copies if id(c) not in kept_ids]
    extra = [name for name in (ID_COLUMN, TASK_ID_COLUMN, TASK_COLUMN, MERGE_FLAG_COLUMN) if name not in columns]
    return MergeResult(
        columns=columns + extra,
        rows=rows,
        read=len(copies),
        dropped_at_edges=sum(c.cut for c in dropped) - stitched,
        dropped_duplicates=sum(not c.cut for c in dropped),
        flagged_at_edges=sum(c.cut for c in kept),
        merged=sum(1 for c in kept if twins[id(c)]),
        stitched=stitched,
        missing=sorted(missing or []),
    )


def _output_row(number: int, copy: _Copy, twins: list[_Copy]) -> dict:
    row = {**copy.row, ID_COLUMN: number, TASK_COLUMN: copy.task, MERGE_FLAG_COLUMN: CUT_FLAG if copy.cut else ""}
    if ID_COLUMN in copy.row:
        row[TASK_ID_COLUMN] = copy.row[ID_COLUMN]
    if copy.cut and twins:
        row.update(_stitched_extent([copy, *twins]))
    return row


def _stitched_extent(pieces: list[_Copy]) -> dict:
    """Position and box of a source cut in every region from its pieces: the union of their boxes and
    the mean of their positions weighted by flux (or size), as the whole-cube run would place it."""
    weights = [p.row["f_sum"] if _is_number(p.row.get("f_sum")) and p.row["f_sum"] > 0 else p.size or 1.0 for p in pieces]
    total = sum(weights)
    stitched = {axis: sum(w * p.position[n] for w, p in zip(weights, pieces)) / total for n, axis in enumerate("xyz")}
    boxes = [p.bbox for p in pieces if p.bbox is not None]
    if boxes:
        for n, name in enumerate(BBOX_COLUMNS):
            stitched[name] = (min if n % 2 == 0 else max)(box[n] for box in boxes)
    return stitched


def _copy(catalogue: TaskCatalogue, row: dict, cube_shape: tuple[int, int, int], order: int) -> _Copy:
    """The copy with its bounding box, whether an inner edge of its region cuts it, and its margin."""
    try:
        position = (float(row["x"]), float(row["y"]), float(row.get("z", 0) or 0))
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{catalogue.path}: the catalogue has no numeric x and y columns") from None
    region = catalogue.region
    inner = _inner_edges(region, cube_shape)
    bbox = tuple(int(row[name]) for name in BBOX_COLUMNS) if all(_is_number(row.get(n)) for n in BBOX_COLUMNS) else None
    cut = _cut_by_inner_edge(row, position, bbox, region, inner)
    distances = [abs(position[axis] - edge) for axis, _side, edge in inner]
    return _Copy(catalogue.task, region, row, position, bbox, cut, min(distances, default=math.inf), order)  # type: ignore[arg-type]


def _inner_edges(region: Region, cube_shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """(axis, side, coordinate) of each region edge inside the cube; side 0 is the low edge, 1 the high."""
    edges = []
    for axis in range(3):
        lo, hi = region.axis(axis)
        if lo > 0:
            edges.append((axis, 0, lo))
        if hi < cube_shape[axis] - 1:
            edges.append((axis, 1, hi))
    return edges


def _cut_by_inner_edge(row: dict, position, bbox, region: Region, inner: list[tuple[int, int, int]]) -> bool:
    if bbox is not None:
        return any(bbox[2 * axis] <= edge if side == 0 else bbox[2 * axis + 1] >= edge for axis, side, edge in inner)
    flag = int(row.get("flag", 0) or 0)
    for bit, axes in ((SPATIAL_EDGE, (0, 1)), (SPECTRAL_EDGE, (2,))):
        if flag & bit and _nearest_edge_is_inner(position, region, inner, axes):
            return True
    return False


def _nearest_edge_is_inner(position, region: Region, inner: list[tuple[int, int, int]], axes) -> bool:
    edges = [
        (abs(position[axis] - edge), (axis, side, edge) in inner) for axis in axes for side, edge in enumerate(region.axis(axis))
    ]
    return min(edges)[1]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _resolve_duplicates(copies: list[_Copy], tolerance: tuple[float, float]) -> tuple[list[_Copy], dict[int, list[_Copy]]]:
    """Keep the best copy of each source and drop the others (rule 3 of the module docstring).

    Copies are taken best first (:meth:`_Copy.rank`). A dropped copy stays in the index under the
    copy it was matched to, so the pieces of a source spanning three regions are one source even
    though the outer two share no pixels. Returns the kept copies and, per kept copy (by ``id``),
    the copies of other tasks it stands for.
    """
    kept: list[_Copy] = []
    twins: dict[int, list[_Copy]] = {}
    index = _SpatialIndex(pad=max(tolerance) + 1)
    for copy in sorted(copies, key=_Copy.rank, reverse=True):
        keeper = next(
            (
                keeper
                for other, keeper in index.near(copy)
                if copy.task not in (other.task, keeper.task) and _same_source(copy, other, tolerance)
            ),
            None,
        )
        if keeper is None:
            kept.append(copy)
            twins[id(copy)] = []
            keeper = copy
        else:
            twins[id(keeper)].append(copy)
        index.add(copy, keeper)
    return kept, twins


def _same_source(a: _Copy, b: _Copy, tolerance: tuple[float, float]) -> bool:
    """Boxes, cut to the pixels both regions hold, sharing at least half of the smaller one; without
    boxes, positions within ``tolerance``."""
    if a.bbox is None or b.bbox is None:
        return _within(a.position, b.position, tolerance)
    seen_by_both = _intersection(a.region.bounds, b.region.bounds)
    if seen_by_both is None:
        return False
    clipped_a, clipped_b = _intersection(a.bbox, seen_by_both), _intersection(b.bbox, seen_by_both)
    if clipped_a is None or clipped_b is None:
        return False
    shared = _intersection(clipped_a, clipped_b)
    return shared is not None and _volume(shared) >= SAME_SOURCE_FRACTION * min(_volume(clipped_a), _volume(clipped_b))


def _intersection(a, b) -> tuple[int, ...] | None:
    """The box two boxes (x_min, x_max, y_min, y_max, z_min, z_max) share, or None."""
    box: list[int] = []
    for axis in range(3):
        lo, hi = max(a[2 * axis], b[2 * axis]), min(a[2 * axis + 1], b[2 * axis + 1])
        if lo > hi:
            return None
        box += [lo, hi]
    return tuple(box)


def _volume(box) -> int:
    return math.prod(box[2 * axis + 1] - box[2 * axis] + 1 for axis in range(3))


def _within(a, b, tolerance: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) <= tolerance[0] and abs(a[1] - b[1]) <= tolerance[0] and abs(a[2] - b[2]) <= tolerance[1]


class _SpatialIndex:
    """Copies already taken, by the grid cells their boxes (or points), grown by ``pad``, cover: the candidates of a match."""

    CELL = 32

    def __init__(self, pad: float) -> None:
        self.pad = pad
        self.cells: dict[tuple[int, int, int], list[tuple[_Copy, _Copy]]] = {}

    def _cells(self, copy: _Copy) -> list[tuple[int, int, int]]:
        lows, highs = (copy.bbox[::2], copy.bbox[1::2]) if copy.bbox is not None else (copy.position, copy.position)
        spans = [
            range(math.floor((lo - self.pad) / self.CELL), math.floor((hi + self.pad) / self.CELL) + 1)
            for lo, hi in zip(lows, highs, strict=True)
        ]
        return [(x, y, z) for x in spans[0] for y in spans[1] for z in spans[2]]

    def add(self, copy: _Copy, keeper: _Copy) -> None:
        """Index ``copy``, kept itself (``keeper is copy``) or dropped as the same source as ``keeper``."""
        for cell in self._cells(copy):
            self.cells.setdefault(cell, []).append((copy, keeper))

    def near(self, copy: _Copy) -> list[tuple[_Copy, _Copy]]:
        """(copy, keeper) pairs indexed in the cells ``copy`` covers, in the order they were added."""
        found: dict[int, tuple[_Copy, _Copy]] = {}
        for cell in self._cells(copy):
            for entry in self.cells.get(cell, ()):
                found.setdefault(id(entry[0]), entry)
        return sorted(found.values(), key=lambda entry: entry[0].order)


# --- writing -------------------------------------------------------------------------------------


def write_merged(result: MergeResult, path: str | Path) -> Path:
    """Write the merged catalogue: CSV, or a VOTable for ``*.xml``; atomically (temporary + rename)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    if path.suffix == ".xml":
        _write_votable(result, temporary)
    else:
        with temporary.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=result.columns, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(result.rows)
    temporary.replace(path)
    return path


def _write_votable(result: MergeResult, path: Path) -> None:
    try:
        from astropy.table import Table
    except ModuleNotFoundError:
        raise UsageError(f"{path.with_suffix('.xml')}: writing a VOTable needs astropy (pip install astropy); use .csv") from None
    columns = {name: [row.get(name) for row in result.rows] for name in result.columns}
    Table(columns, names=result.columns).write(path, format="votable", overwrite=True)


# --- a split run ---------------------------------------------------------------------------------


def merge_split_run(
    plan: RunPlan,
    tasks: list[TaskSpec],
    folder_of: Callable[[TaskSpec], Path],
    output: str | Path,
    *,
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
) -> MergeResult:
    """Merge what the ``tasks`` of a split run brought back and write it to ``output``.

    ``plan`` and ``tasks`` are as the ledger keeps them, so a resumed run can merge too;
    ``folder_of(task)`` returns the local folder holding that task's collected outputs. A task's
    VOTable is preferred over its ASCII catalogue; a task without a catalogue (SoFiA's "no
    sources") is listed in ``missing``.
    """
    if plan.kind != "split" or plan.cube is None:
        raise UsageError(f"run {plan.run_id} is not a split run: its catalogues are not merged")
    catalogues, missing = [], []
    for task in tasks:
        folder = Path(folder_of(task))
        found = [folder / name for name in task.outputs.catalogues if (folder / name).is_file()]
        if found and task.region is not None:
            catalogues.append(TaskCatalogue(task.index, task.region, found[0]))
        else:
            missing.append(task.index)
    result = merge_catalogues(catalogues, plan.cube.shape, tolerance=tolerance, missing=missing)
    write_merged(result, output)
    return result
