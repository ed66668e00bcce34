"""A run workspace for the run tests: the seed's config.ini with paths adjusted, a cube, a finder.

SoFiA-2 cannot be installed here, so ``sofia`` on the sessions' PATH is a small real finder with
SoFiA's command line and exit codes: it reads the cube named by ``input.data``, reports voxels
above ``scfind.threshold`` × the noise as a catalogue ``<output.filename>_cat.txt`` in
``output.directory``, exits 8 when it finds nothing and 7 when the threshold is not a number.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from conftest import FIXTURES

SEED = FIXTURES / "seed"

FINDER = r"""#!{python}
import sys, time
import numpy as np
from astropy.io import fits
args = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
par = dict(
    (k.strip(), v.strip()) for k, _, v in
    (line.partition("=") for line in open(sys.argv[1]) if "=" in line and not line.startswith("#"))
)
print("SoFiA 2 stand-in", sys.argv[1], flush=True)
try:
    threshold = float(par.get("scfind.threshold", "3.5"))
except ValueError:
    print("ERROR: Failed to parse scfind.threshold", flush=True)
    sys.exit(7)
time.sleep(float(par.get("test.sleep", "0")))
data = fits.getdata(args["input.data"])
noise = 1.4826 * np.median(np.abs(data - np.median(data)))
found = np.argwhere(data > threshold * noise)
if len(found) == 0:
    print("No sources left after linking.", flush=True)
    sys.exit(8)
with open(f"{{args['output.directory']}}/{{args['output.filename']}}_cat.txt", "w") as cat:
    cat.write("# z y x\n")
    for z, y, x in found:
        cat.write(f"{{z}} {{y}} {{x}}\n")
print(f"Found {{len(found)}} voxels above threshold.", flush=True)
"""


def write_finder(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "sofia"
    path.write_text(FINDER.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def write_cube(path: Path, shape=(8, 24, 24), seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, shape).astype("float32")
    data[shape[0] // 2, shape[1] // 2, shape[2] // 2] = 50.0
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data).writeto(path, overwrite=True)
    return path


def par_file(path: Path, threshold: str = "3.5", sleep_s: float = 0.0) -> Path:
    text = (SEED / "sofia.par").read_text()
    text = text.replace("scfind.threshold           =  3.5", f"scfind.threshold           =  {threshold}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + f"\ntest.sleep = {sleep_s}\n")
    return path


SMALL_TASKS = {"cores": "1", "ram": "1", "interval": "0.2"}
"""For tests whose subject is not the seed's defaults (crash safety, say): tasks that run side by side."""


def seed_workspace(
    root: Path, state_dir: Path, thresholds=("3.5", "4", "1000"), sleep_s: float = 0.0, small_tasks: bool = False
) -> Path:
    """The seed's config.ini, unchanged (unless ``small_tasks``), beside its files; returns the config path.

    [sofia-task]'s relative files are created beside it (and uploaded by the run); [sofia-parallel]
    keeps its /arc cube, which is put where the local backend's /arc is. Its default cores and RAM
    are fitted by the run to what this machine offers, as for any user; ``small_tasks`` sets
    [sofia-parallel] to :data:`SMALL_TASKS`.
    """
    root.mkdir(parents=True, exist_ok=True)
    config = configparser.ConfigParser(interpolation=None)
    config.read(SEED / "config.ini")
    par_file(root / "sofia.par", sleep_s=sleep_s)
    write_cube(root / config["sofia-task"]["image_file"])
    arc_cube = config["sofia-parallel"]["image_file"]
    write_cube(state_dir / "arc" / arc_cube.removeprefix("/arc/"))
    for number, threshold in enumerate(thresholds, start=1):
        par_file(root / config["sofia-parallel"]["parameter_file_dir"] / f"sofia_{number:02d}.par", threshold, sleep_s)
    path = Path(shutil.copyfile(SEED / "config.ini", root / "config.ini"))
    if small_tasks:
        config["sofia-parallel"].update(SMALL_TASKS)
        with path.open("w") as handle:
            config.write(handle)
    return path


def start_workspace(tmp_path: Path, state_dir: Path, test_env: dict, server_factory, *, server_options=None, **seed_options):
    """The finder on the sessions' PATH, the seed workspace, and a local server: (config path, server)."""
    bin_dir = tmp_path / "bin"
    write_finder(bin_dir)
    test_env["PATH"] = f"{bin_dir}{os.pathsep}{test_env.get('PATH', '')}"
    config = seed_workspace(tmp_path / "work", state_dir, **seed_options)
    # Two cores whatever the machine has: the seed's 8 are then never offered, as on a login node.
    return config, server_factory(**{"cores": 2, **(server_options or {})})


WRITE_ONLY_FILE = Path("/proc/sys/vm/drop_caches")
"""Mode 0200 in procfs: even root cannot read it (root reads any chmod-000 file of its own)."""


def make_unreadable(path: Path) -> Path:
    """Turn ``path`` into a file that exists but cannot be read by this process (for refusal tests)."""
    import pytest

    if path.exists() or path.is_symlink():
        path.unlink()
    if os.geteuid() != 0:
        path.write_text("secret\n")
        path.chmod(0)
        return path
    try:
        WRITE_ONLY_FILE.open("rb").close()
    except PermissionError:
        path.symlink_to(WRITE_ONLY_FILE)
        return path
    except OSError:
        pass
    pytest.skip("running as root without an unreadable file to point at")
