"""A stand-in for the Karabo SRCNet SKA-MID AA* workflow (seed 001) that the local backend really runs.

Configured as the workflow is, by environment variables (NUM_CHANNELS, NUM_TIME_STAMPS,
NUM_STATIONS, NUM_POLARIZATIONS, IMAGING_NPIXEL, FILE_PREFIX, OUTPUT_DIR), products chosen by
flags (--dirty, --cleaned, --visibility), it writes files of exactly the minimum sizes seed 001
gives — the measurement set (kept only with --visibility, as the workflow discards it otherwise)
and one image per flag — so that ``submit --dry-run``'s estimate can be checked against them.
"""

import argparse
import os
from pathlib import Path


def write_bytes(path: Path, size: int) -> None:
    with path.open("wb") as out:
        out.truncate(size)
    print(f"wrote {path.name}: {size} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--dirty", "--cleaned", "--visibility"):
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args()
    channels, times, stations, pols, npixel = (
        int(os.environ[name])
        for name in ("NUM_CHANNELS", "NUM_TIME_STAMPS", "NUM_STATIONS", "NUM_POLARIZATIONS", "IMAGING_NPIXEL")
    )
    out = Path(os.environ.get("OUTPUT_DIR", "."))
    out.mkdir(parents=True, exist_ok=True)
    prefix = os.environ.get("FILE_PREFIX", "")
    baselines = stations * (stations - 1) // 2
    measurement_set = out / f"{prefix}visibilities.ms"
    write_bytes(measurement_set, channels * times * baselines * pols * 8)
    for flag, name in ((args.dirty, "dirty"), (args.cleaned, "cleaned")):
        if flag:
            write_bytes(out / f"{prefix}{name}.img", npixel**2 * 8)
    if not args.visibility:
        measurement_set.unlink()


if __name__ == "__main__":
    main()
