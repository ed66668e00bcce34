"""The quickstart: a real, installable source finder through the whole run machinery, on this machine.

SoFiA-2 cannot be installed from a package registry, so the quickstart generates a synthetic radio
continuum image (Gaussian sources of one beam plus noise, with a proper WCS and beam in the
header) and runs PyBDSF (``pip install 'srcnet-tui[examples]'``) on it as a split parallel run on
the local server: the image is cut into regions with an overlap, every region is one session,
and the run ends like any other with its products, ``run.json`` and the usage table. The config
it writes is an ordinary run configuration; edit it and run ``parallel`` on it again. Running the
quickstart again keeps a config or parameter file the user edited (and runs it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from srcnet_tui.core.errors import UsageError

IMAGE_NAME = "synthetic_field.fits"
PAR_NAME = "bdsf.par"
CONFIG_NAME = "config.ini"
SECTION = "quickstart"
BEAM_PIXELS = 4.0  # FWHM of the restoring beam, in pixels
PIXEL_DEG = 2.0 / 3600  # 2 arcsec pixels
NOISE_JY = 1e-4
FREQUENCY_HZ = 1.4e9


@dataclass(frozen=True)
class Example:
    folder: Path
    config: Path
    image: Path
    sources: list[tuple[float, float, float]]  # (x, y, peak Jy/beam), 0-based pixels
    kept: tuple[Path, ...] = ()  # files the user edited, left as they are


def synthetic_image(path: Path, size: int = 512, sources: int = 24, seed: int = 2026) -> list[tuple[float, float, float]]:
    """Write a 2-D FITS image of point sources convolved with the beam, plus Gaussian noise."""
    import numpy as np
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    sigma = BEAM_PIXELS / (2 * math.sqrt(2 * math.log(2)))
    margin = 4 * BEAM_PIXELS
    placed = [
        (float(x), float(y), float(peak))
        for x, y, peak in zip(
            rng.uniform(margin, size - margin, sources),
            rng.uniform(margin, size - margin, sources),
            NOISE_JY * rng.uniform(8, 60, sources),
        )
    ]
    yy, xx = np.mgrid[0:size, 0:size]
    data = rng.normal(0.0, NOISE_JY, (size, size))
    for x, y, peak in placed:
        data += peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    header = fits.Header()
    header.update({
        "CTYPE1": "RA---SIN", "CRVAL1": 150.0, "CDELT1": -PIXEL_DEG, "CRPIX1": size / 2 + 1, "CUNIT1": "deg",
        "CTYPE2": "DEC--SIN", "CRVAL2": 2.0, "CDELT2": PIXEL_DEG, "CRPIX2": size / 2 + 1, "CUNIT2": "deg",
        "BMAJ": BEAM_PIXELS * PIXEL_DEG, "BMIN": BEAM_PIXELS * PIXEL_DEG, "BPA": 0.0,
        "BUNIT": "JY/BEAM", "RESTFRQ": FREQUENCY_HZ, "EQUINOX": 2000.0, "OBJECT": "srcnet-tui quickstart",
    })  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data.astype("float32"), header).writeto(path, overwrite=True)
    return placed


def parameter_text() -> str:
    return (
        "# PyBDSF process_image options, one per line (Python literals)\n"
        "thresh_isl = 3.0\n"
        "thresh_pix = 5.0\n"
        f"frequency = {FREQUENCY_HZ:g}\n"
        "rms_box = (64, 16)\n"
    )


def config_text(images_folder: str, grid: tuple[int, int]) -> str:
    return (
        f"# srcnet-tui quickstart: PyBDSF on a synthetic image, split into {grid[0]}x{grid[1]} regions,\n"
        "# one local session each. Run it again with:  srcnet-tui --headless parallel config.ini --section quickstart\n"
        f"[{SECTION}]\n"
        "vos_dir = /arc/home/quickstart\n"
        f"image_file = {images_folder}/{IMAGE_NAME}\n"
        f"parameter_file = {PAR_NAME}\n"
        "logs_dir = results\n"
        "finder = bdsf\n"
        "name = quickstart\n"
        f"split = {grid[0]},{grid[1]},1\n"
        "overlap = 24\n"
        "cores = 1\n"
        "interval = 0.5\n"
        "profile_log = profile.csv\n"
    )


def make_example(folder: Path, grid: tuple[int, int] = (2, 2), size: int = 512, sources: int = 24) -> Example:
    """Write the image, the PyBDSF parameter file and the run configuration into ``folder``; a
    parameter file or config that differs from what the quickstart writes is the user's and is kept."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "images" / IMAGE_NAME
    placed = synthetic_image(image, size=size, sources=sources)
    config = folder / CONFIG_NAME
    written = {folder / PAR_NAME: parameter_text(), config: config_text("images", grid)}
    kept = tuple(path for path, text in written.items() if not _write_unless_edited(path, text))
    return Example(folder, config, image, placed, kept)


def _write_unless_edited(path: Path, text: str) -> bool:
    """Write ``text`` unless ``path`` holds something else (the user's edits); True when written."""
    try:
        if path.read_text() != text:
            return False
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc}); move it aside to start over") from None
    path.write_text(text)
    return True


def check_installed() -> None:
    """Refuse (exit 2) with the install command when PyBDSF or astropy is missing."""
    missing = [name for name in ("bdsf", "astropy") if find_spec(name) is None]
    if missing:
        raise UsageError(f"the quickstart needs {' and '.join(missing)}: pip install 'srcnet-tui[examples]'")
