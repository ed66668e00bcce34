"""Every config error is one line naming the file, the section and the key (issue 13): no Python reprs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.config import load_run_config
from srcnet_tui.core.runs.plan import plan_run


def _split_run(tmp_path, extra: str):
    fits.PrimaryHDU(np.zeros((20, 30, 40), dtype=np.float32)).writeto(tmp_path / "cube.fits")
    (tmp_path / "t.par").write_text("scfind.enable = true\n")
    path = tmp_path / "run.ini"
    path.write_text(f"[split-run]\nvos_dir = /arc/x\nimage_file = cube.fits\nparameter_file = t.par\n{extra}")
    return plan_run(load_run_config(path, "split-run", "parallel"), "r1")


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("split = 500,500,1\n", "split", "the x axis: cannot cut 40 pixels into 500 regions"),
        ("split = 2,2,1\noverlap = 100000\n", "overlap", "the x axis: cannot cut 40 pixels into 2 regions overlapping by 100000"),
    ],
)
def test_a_grid_that_cannot_be_cut_names_file_section_and_the_key_at_fault(tmp_path, extra, key, words):
    with pytest.raises(UsageError) as caught:
        _split_run(tmp_path, extra)
    assert str(caught.value).startswith(f"run.ini [split-run] {key}: {words}") and caught.value.key == key
    assert "cube 40x30x20" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message", "key"),
    [
        ("[p]\nvos_dir = /arc/x\nvos_dir = /arc/y\n", "c.ini [p] vos_dir: is given twice (again on line 3); keep one", "vos_dir"),
        ("[p]\n[p]\n", "c.ini line 2: section [p] is given twice; merge them", None),
        ("vos_dir = /arc/x\n", "c.ini line 1: 'vos_dir = /arc/x' comes before any [section]", None),
        ("[p]\nvos_dir\n", "c.ini line 2: expected KEY = VALUE (or a [section])", None),
    ],
)
def test_a_malformed_file_is_named_by_line_or_key_without_python_reprs(tmp_path, text, message, key):
    (tmp_path / "c.ini").write_text(text)
    with pytest.raises(UsageError) as caught:
        load_run_config(tmp_path / "c.ini", "p")
    assert str(caught.value) == message and caught.value.key == key
    assert "PosixPath" not in str(caught.value)
