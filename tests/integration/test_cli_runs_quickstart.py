"""The README's first command: PyBDSF on a synthetic image, as a split parallel run on the local server."""

from __future__ import annotations

import csv
import json
import math

import pytest

pytest.importorskip("bdsf")

from srcnet_tui.core.runs.quickstart import synthetic_image


def test_quickstart_runs_pybdsf_in_several_sessions_and_ends_with_the_usage_table(local_server, cli, tmp_path):
    proc = cli("quickstart", "--dir", tmp_path / "qs", timeout=110)
    assert proc.returncode == 0, proc.stderr
    assert "makespan" in proc.stdout and "task-004" in proc.stdout
    run_line = next(line for line in proc.stderr.splitlines() if line.startswith("run ") and "task(s)" in line)
    run_id = run_line.split()[1].rstrip(":")
    results = tmp_path / "qs" / "results" / run_id
    catalogues = sorted(results.glob("*_0??_cat.csv"))
    assert len(catalogues) == 4
    rows = [row for path in catalogues for row in csv.DictReader(path.open())]
    assert len(rows) >= 20, "PyBDSF finds the synthetic sources"
    manifest = json.loads((results / "run.json").read_text())
    assert manifest["kind"] == "split" and {t["state"] for t in manifest["tasks"]} == {"completed"}
    assert len({t["session_id"] for t in manifest["tasks"]}) == 4
    assert manifest["software"].get("bdsf")
    merged = list(csv.DictReader(open(results / f"{run_id}_merged_cat.csv")))
    placed = synthetic_image(tmp_path / "again.fits")
    assert len(merged) == len(placed), "one row per synthetic source, duplicates in the overlaps resolved"
    for x, y, _peak in placed:
        assert min(math.hypot(float(r["x"]) - x, float(r["y"]) - y) for r in merged) < 1.5
    assert manifest["merged_catalogue"]["sources"] == len(placed)
    again = cli("merge", run_id, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sources"] == len(placed)
    with local_server.client() as http:
        assert len(http.get("session").json()) == 4
