"""The Usage pane (placeholder until core.usage lands)."""

from __future__ import annotations

from textual.containers import Vertical


class UsagePane(Vertical):
    BINDINGS = []

    def record_live(self, sessions, at) -> None:
        pass
