"""Run PyBDSF on one image, or one region of it, and write a catalogue the merge can read.

SoFiA-2 cannot be installed from a package registry, so the quickstart runs PyBDSF (PyPI ``bdsf``)
through the same machinery: ``srcnet-task --finder bdsf`` starts ``python -m srcnet_tui.core.task.bdsf``
under the recorder. It follows SoFiA-2's conventions where the run machinery relies on them:
products are named ``<filename>_...`` in the output folder, ``--region`` takes SoFiA's
``x_min,x_max,y_min,y_max,z_min,z_max`` (0-based, inclusive; z is ignored for 2-D images),
positions are whole-image pixels, sources whose island touches an edge of the region are flagged
(bit 1, as in SoFiA), and "no sources found" exits 8.

The parameter file holds ``process_image`` options, one ``name = value`` per line (Python
literals, ``#`` comments), e.g. ``thresh_isl = 3.0`` or ``rms_box = (60, 20)``.

``bdsf`` is imported only when a task runs, so this module imports anywhere.
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
from pathlib import Path

NO_SOURCES = 8
BAD_INPUT = 7
CATALOGUE_SUFFIX = "_cat.csv"
COLUMNS = ("id", "x", "y", "z", "x_min", "x_max", "y_min", "y_max", "z_min", "z_max",
           "ra", "dec", "f_sum", "f_peak", "maj", "min", "pa", "code", "flag")  # fmt: skip
EDGE_FLAG = 1  # SoFiA-2's bit for "touches the spatial edge of the region"


def read_options(path: Path) -> dict:
    """``name = value`` lines → keyword arguments for ``bdsf.process_image``."""
    options = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValueError(f"{path}:{number}: expected name = value, got {line!r}")
        try:
            options[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[name.strip()] = value.strip()
    return options


def trim_box(region: str | None) -> tuple[int, int, int, int] | None:
    """SoFiA's inclusive region → PyBDSF's ``trim_box`` (xmin, xmax, ymin, ymax), max exclusive."""
    if not region:
        return None
    x_min, x_max, y_min, y_max = (int(v) for v in region.split(",")[:4])
    return (x_min, x_max + 1, y_min, y_max + 1)


def source_rows(image, box: tuple[int, int, int, int] | None) -> list[dict]:
    """One row per PyBDSF source, in whole-image pixel coordinates, edge-touching sources flagged."""
    x0, y0 = (box[0], box[2]) if box else (0, 0)
    width, height = image.ch0_arr.shape[:2]
    rows = []
    for source in image.sources:
        x_slice, y_slice = source.bbox[:2]
        touches_edge = x_slice.start <= 0 or y_slice.start <= 0 or x_slice.stop >= width or y_slice.stop >= height
        ra, dec = source.posn_sky_centroid
        x, y = image.sky2pix(source.posn_sky_centroid)
        maj, min_, pa = source.size_sky
        rows.append({
            "id": source.source_id + 1, "x": x + x0, "y": y + y0, "z": 0,
            "x_min": x_slice.start + x0, "x_max": x_slice.stop - 1 + x0,
            "y_min": y_slice.start + y0, "y_max": y_slice.stop - 1 + y0, "z_min": 0, "z_max": 0,
            "ra": ra, "dec": dec, "f_sum": source.total_flux, "f_peak": source.peak_flux_max,
            "maj": maj, "min": min_, "pa": pa, "code": source.code, "flag": EDGE_FLAG if touches_edge else 0,
        })  # fmt: skip
    return rows


def write_catalogue(rows: list[dict], path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m srcnet_tui.core.task.bdsf", description=__doc__.splitlines()[0])
    parser.add_argument("--par", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--filename", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--region")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import bdsf
    except ModuleNotFoundError:
        print("bdsf_task: PyBDSF is not installed (pip install bdsf)", file=sys.stderr)
        return 127
    try:
        options = read_options(args.par)
    except (OSError, ValueError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return BAD_INPUT
    box = trim_box(args.region)
    if box:
        options["trim_box"] = box
    options.setdefault("quiet", True)
    options.update(outdir=str(args.out), ncores=args.threads)
    try:
        image = bdsf.process_image(str(args.data), **options)
    except RuntimeError as exc:
        print(f"ERROR: PyBDSF: {exc}", file=sys.stderr)
        return BAD_INPUT
    rows = source_rows(image, box)
    if not rows:
        print("No sources found.")
        return NO_SOURCES
    write_catalogue(rows, args.out / f"{args.filename}{CATALOGUE_SUFFIX}")
    print(f"{len(rows)} sources written to {args.filename}{CATALOGUE_SUFFIX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
