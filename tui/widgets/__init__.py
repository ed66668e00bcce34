"""Reusable widgets of the srcnet-tui app (no knowledge of panes or of the platform)."""
