"""Running the quickstart again never overwrites the config (or parameter file) its "next:" line says to edit."""

from __future__ import annotations

import pytest

pytest.importorskip("astropy")

from srcnet_tui.core.runs import quickstart


def test_an_edited_config_and_parameter_file_are_kept_and_untouched_ones_rewritten(tmp_path):
    first = quickstart.make_example(tmp_path, size=64, sources=2)
    edited = first.config.read_text().replace("cores = 1", "cores = 2")
    first.config.write_text(edited)

    again = quickstart.make_example(tmp_path, size=64, sources=2)

    assert first.kept == () and again.kept == (first.config,)
    assert again.config.read_text() == edited
    (tmp_path / quickstart.PAR_NAME).write_text("thresh_isl = 4.0\n")
    (tmp_path / quickstart.CONFIG_NAME).unlink()
    third = quickstart.make_example(tmp_path, size=64, sources=2)
    assert third.kept == (tmp_path / quickstart.PAR_NAME,)
    assert "cores = 1" in third.config.read_text()
    assert (tmp_path / quickstart.PAR_NAME).read_text() == "thresh_isl = 4.0\n"
