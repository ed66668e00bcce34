"""Entry point of the ``srcnet-tui`` console script.

``--headless`` hands the rest of the command line to the core CLI without importing Textual, so
scripts and cron jobs start fast; anything else opens the terminal UI.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--headless" in argv:
        from srcnet_tui.core.cli import main as headless_main

        argv.remove("--headless")
        sys.exit(headless_main(argv))
    from srcnet_tui.tui.app import run_app

    sys.exit(run_app(argv))
