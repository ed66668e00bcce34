"""The Runs pane (placeholder until core.runs lands)."""

from __future__ import annotations

from textual.containers import Vertical


class RunsPane(Vertical):
    BINDINGS = []
