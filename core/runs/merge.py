"""Merge the catalogues of a split run into one, one row per source.

Neighbouring regions share an overlap (``config.DEFAULT_OVERLAP``), so a source near a cut is seen
by two (or, at corners, up to eight) tasks. Two rules make the result one row per source:

1. **Cut sources go.** A copy whose pixels reach an edge of its region that lies *inside* the cube
   (not a cube edge) is incomplete; the neighbour sees that source whole, provided the overlap is
   larger than the source. With SoFiA's bounding-box columns (``x_min`` … ``z_max``) this is exact;
   without them, a copy flagged as touching an edge (SoFiA flag bit 1 spatial, 2 spectral) is
   dropped when the nearest region edge along that kind of axis is an inner one.
2. **Duplicates are resolved by position.** Copies from different tasks within ``tolerance``
   pixels (spatial, spectral) of each other are one source; the copy kept is the one furthest from
   its region's inner edges — the task that saw the most context around it. Copies from the same
   task are never merged with each other (SoFiA already separated them).

Positions are whole-cube pixels: ``srcnet-task`` sets ``parameter.offset=true`` for split tasks and
the PyBDSF driver writes whole-image pixels. Reads SoFiA-2's VOTable (``_cat.xml``) and ASCII
(``_cat.txt``) catalogues and the PyBDSF driver's CSV (``_cat.csv``); writes CSV, or a VOTable
when the output name ends in ``.xml`` (that needs astropy).
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
    dropped_at_edges: int = 0
    dropped_duplicates: int = 0
    missing: list[int] = field(default_factory=list)  # tasks without a catalogue (e.g. no sources)

    def to_dict(self) -> dict:
        return {
            "sources": len(self.rows),
            "read": self.read,
            "dropped_at_edges": self.dropped_at_edges,
            "dropped_duplicates": self.dropped_duplicates,
            "tasks_without_catalogue": list(self.missing),
        }


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
    margin: float  # distance (pixels) to the nearest inner edge of its region
    order: int  # position in the input, to keep the output in task and catalogue order


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
    read = dropped_at_edges = 0
    for catalogue in sorted(catalogues, key=lambda c: c.task):
        names, rows = read_catalogue(catalogue.path)
        columns += [name for name in names if name not in columns]
        for row in rows:
            read += 1
            copy = _copy(catalogue, row, cube_shape, order=read)
            if copy is None:
                dropped_at_edges += 1
            else:
                copies.append(copy)
    kept = _resolve_duplicates(copies, tolerance)
    kept.sort(key=lambda c: c.order)
    rows = [{**c.row, TASK_COLUMN: c.task} for c in kept]
    return MergeResult(
        columns=columns + ([TASK_COLUMN] if TASK_COLUMN not in columns else []),
        rows=rows,
        read=read,
        dropped_at_edges=dropped_at_edges,
        dropped_duplicates=len(copies) - len(kept),
        missing=sorted(missing or []),
    )


def _copy(catalogue: TaskCatalogue, row: dict, cube_shape: tuple[int, int, int], order: int) -> _Copy | None:
    """The copy with its margin, or None when it is cut by an inner edge of its region."""
    try:
        position = (float(row["x"]), float(row["y"]), float(row.get("z", 0) or 0))
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{catalogue.path}: the catalogue has no numeric x and y columns") from None
    region = catalogue.region
    inner = _inner_edges(region, cube_shape)
    if _cut_by_inner_edge(row, position, region, inner):
        return None
    distances = [abs(position[axis] - edge) for axis, _side, edge in inner]
    return _Copy(catalogue.task, region, row, position, min(distances, default=math.inf), order)


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


def _cut_by_inner_edge(row: dict, position, region: Region, inner: list[tuple[int, int, int]]) -> bool:
    if all(_is_number(row.get(name)) for name in BBOX_COLUMNS):
        bbox = [int(row[name]) for name in BBOX_COLUMNS]
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


def _resolve_duplicates(copies: list[_Copy], tolerance: tuple[float, float]) -> list[_Copy]:
    """Group copies from different tasks lying within ``tolerance``; keep the best task's copies per group."""
    parent = list(range(len(copies)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cell_size = (max(tolerance[0], 1e-9), max(tolerance[0], 1e-9), max(tolerance[1], 1e-9))
    cells: dict[tuple[int, int, int], list[int]] = {}
    for i, copy in enumerate(copies):
        cx, cy, cz = (math.floor(p / s) for p, s in zip(copy.position, cell_size, strict=True))
        cell = (cx, cy, cz)
        for neighbour in _neighbour_cells(cell):
            for j in cells.get(neighbour, ()):
                if copies[j].task != copy.task and _within(copy.position, copies[j].position, tolerance):
                    parent[find(i)] = find(j)
        cells.setdefault(cell, []).append(i)
    groups: dict[int, list[_Copy]] = {}
    for i, copy in enumerate(copies):
        groups.setdefault(find(i), []).append(copy)
    kept = []
    for members in groups.values():
        best = max(members, key=lambda c: (c.margin, -c.task))
        kept += [c for c in members if c.task == best.task]
    return kept


def _neighbour_cells(cell):
    x, y, z = cell
    return [(x + dx, y + dy, z + dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]


def _within(a, b, tolerance: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) <= tolerance[0] and abs(a[1] - b[1]) <= tolerance[0] and abs(a[2] - b[2]) <= tolerance[1]


# --- writing -------------------------------------------------------------------------------------


def write_merged(result: MergeResult, path: str | Path) -> Path:
    """Write the merged catalogue: CSV, or a VOTable for ``*.xml``; atomically (temporary + rename)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    if path.suffix == ".xml":
        _write_votable(result, temporary)
    else:
        with temporary.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=result.columns, extrasaction="ignore")
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
