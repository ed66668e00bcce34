"""The ``srcnet-tui --headless`` command line: argument parsing, dispatch and the exit-code contract.

Each command family lives in its own module that exposes ``register(subparsers)``; a command is a
function ``handler(args) -> int``. Only the family of the command being run is imported (the runs and
usage families load pandas and pyarrow, which a ``sessions`` call or the local daemon never needs);
``--help`` without a command imports them all. Expected failures are :class:`srcnet_tui.core.errors.SrcnetError` and
become one line on stderr plus the contract's exit code; nothing a user did wrong shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from srcnet_tui.core import __version__
from srcnet_tui.core.errors import SrcnetError, UsageError
from srcnet_tui.core.settings import add_global_options

COMMAND_MODULES = {
    "srcnet_tui.core.cli.sessions": (
        "sessions", "launch", "info", "logs", "events", "wait", "delete", "renew", "stats", "images", "context",
    ),
    "srcnet_tui.core.cli.usage": ("record", "aggregate", "usage"),
    "srcnet_tui.core.cli.runs": ("run", "parallel", "runs", "resume", "merge", "quickstart"),
    "srcnet_tui.core.cli.submit": ("submit", "schedule"),
    "srcnet_tui.core.cli.retry": ("retry",),
    "srcnet_tui.core.cli.local": ("serve-local",),
    "srcnet_tui.core.cli.sites": ("sites",),
    "srcnet_tui.core.cli.data": ("clean", "keep", "rerun", "verify"),
}  # fmt: skip
"""Each family's module and the commands it registers (a test holds the two together)."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so bad usage follows the one-line error path."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def command_modules(argv: list[str]) -> list[str]:
    """The modules to import for this command line: the named command's family, or every family."""
    globals_only = _Parser(prog="srcnet-tui --headless", add_help=False)
    add_global_options(globals_only)
    _, rest = globals_only.parse_known_args(argv)
    command = rest[0] if rest else None
    named = [module for module, commands in COMMAND_MODULES.items() if command in commands]
    return named or list(COMMAND_MODULES)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv`` (with only its command's family registered), or for every command."""
    parser = _Parser(
        prog="srcnet-tui --headless",
        description="The headless srcnet-tui commands, for scripts and cron: srcnet-tui --headless [GLOBAL OPTIONS] COMMAND "
        "(srcnet-tui without --headless opens the terminal UI). COMMAND --help describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"srcnet-tui {__version__}")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in command_modules(argv) if argv is not None else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _describe_commands(sub)
    return parser


def _describe_commands(sub) -> None:
    """Every command's ``--help`` opens with a description: its summary line, when its module gave none longer."""
    summaries = {action.dest: action.help for action in sub._get_subactions()}
    for name, command in sub.choices.items():
        summary = summaries.get(name)
        if not command.description and summary:
            command.description = f"{summary[0].upper()}{summary[1:]}."


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
        args = build_parser(ours).parse_args(ours)
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
