"""The ``srcnet-tui --headless`` command line: argument parsing, dispatch and the exit-code contract.

Each command family lives in its own module that exposes ``register(subparsers)``; a command is a
function ``handler(args) -> int``. Expected failures are :class:`srcnet_tui.core.errors.SrcnetError` and
become one line on stderr plus the contract's exit code; nothing a user did wrong shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from srcnet_tui.core import __version__
from srcnet_tui.core.errors import SrcnetError, UsageError
from srcnet_tui.core.settings import add_global_options

COMMAND_MODULES = (
    "srcnet_tui.core.cli.sessions",
    "srcnet_tui.core.cli.usage",
    "srcnet_tui.core.cli.runs",
    "srcnet_tui.core.cli.local",
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so bad usage follows the one-line error path."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="srcnet-tui --headless", description="Headless srcnet-tui commands.")
    parser.add_argument("--version", action="version", version=f"srcnet-tui {__version__}")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``... -- CMD ARG ...`` so argparse never interprets the workload's own options."""
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, workload = split_command(argv)
    try:
        args = build_parser().parse_args(ours)
        args.workload = workload
        return int(args.handler(args) or 0)
    except SrcnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # Backstop for file-system trouble no command anticipated: still one line naming the path.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return UsageError.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
