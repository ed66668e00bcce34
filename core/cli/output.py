"""Printing for the CLI: rich tables for people, JSON for scripts, notices on stderr."""

from __future__ import annotations

import json
import os
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


def command_prefix() -> str:
    """How hints name the headless CLI: the executable the user ran (``srcnet-tui --headless``, or
    whatever they called it); ``python -m`` and scripts get the installed name."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not program or program.endswith(".py") or program in ("-c", "-m"):
        program = "srcnet-tui"
    return f"{program} --headless"
