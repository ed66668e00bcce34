"""Headless core of srcnet-tui: everything the CLI and the TUI share.

Nothing under this package may import textual; the TUI is one client of it, the CLI another.
"""

__version__ = "0.1.0"
