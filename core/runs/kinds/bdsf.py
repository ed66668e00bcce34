"""PyBDSF runs (the quickstart's finder): planned as SoFiA-2 runs are, with the PyBDSF driver's catalogue."""

from __future__ import annotations

from srcnet_tui.core.runs.kinds.sofia import FinderKind

KIND = FinderKind("bdsf", ("_cat.csv",))
