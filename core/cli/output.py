"""Printing for the CLI: rich tables for people, JSON for scripts, notices on stderr."""

from __future__ import annotations

import json
import sys

from rich.console import Console

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def print_json(data) -> None:
    """Write machine output to stdout: plain JSON, nothing else on that stream."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def notice(message: str) -> None:
    """A one-line human notice on stderr (kept off stdout so pipes stay clean)."""
    stderr.print(message, style="dim", highlight=False, markup=False)
