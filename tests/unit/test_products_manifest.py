"""run.json for reproducibility: the finder's version as its log reports it, and keep/clean records kept."""

from __future__ import annotations

import json

from srcnet_tui.core.runs.manifest import finder_version, write_manifest

SOFIA_BANNER = """
______________________________________________________________________________

 Pipeline started
 ______________________________________________________________________________

  Using:    Source Finding Application (SoFiA)
  Version:  2.5.0 (24-Jun-2022)
  CPU:      2 threads available
"""


def test_the_finder_version_is_read_from_sofias_banner_or_a_version_line(tmp_path):
    sofia, bdsf, silent = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "c.log"
    sofia.write_text(SOFIA_BANNER)
    bdsf.write_text("--> Opened 'image.fits'\nPyBDSF version 1.11.1\n")
    silent.write_text("nothing to see\n")
    assert finder_version([silent, tmp_path / "missing.log", sofia]) == "2.5.0 (24-Jun-2022)"
    assert finder_version([bdsf]) == "1.11.1"
    assert finder_version([silent]) is None


def test_writing_run_json_again_keeps_what_keep_and_clean_recorded(tmp_path):
    path = tmp_path / "run.json"
    write_manifest({"run_id": "r1", "tasks": []}, path)
    data = json.loads(path.read_text())
    data["kept"] = [{"path": "/x/a", "md5": "m"}]
    data["removed"] = [{"path": "/arc/r1/b", "md5": "n"}]
    path.write_text(json.dumps(data))
    write_manifest({"run_id": "r1", "tasks": [1]}, path)
    again = json.loads(path.read_text())
    assert again["tasks"] == [1] and again["kept"] == data["kept"] and again["removed"] == data["removed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
