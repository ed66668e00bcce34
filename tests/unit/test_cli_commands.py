"""The CLI imports only the family of the command it runs, so its table of families must be right."""

import argparse
import importlib
import subprocess
import sys

import pytest

from srcnet_tui.core.cli import COMMAND_MODULES, command_modules


@pytest.mark.parametrize("module", list(COMMAND_MODULES))
def test_each_family_registers_exactly_the_commands_the_table_names(module):
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(sub)
    assert tuple(sub.choices) == COMMAND_MODULES[module]


def test_the_named_command_picks_its_family_and_anything_else_picks_all():
    assert command_modules(["--backend", "local", "--state-dir", "/tmp/x", "serve-local", "--port", "0"]) == [
        "srcnet_tui.core.cli.local"
    ]
    assert command_modules(["sessions", "--help"]) == ["srcnet_tui.core.cli.sessions"]
    assert command_modules(["retry", "20260101-000000-abcd", "--ram", "4"]) == ["srcnet_tui.core.cli.retry"]
    assert command_modules(["--site", "cansrc", "sites", "--json"]) == ["srcnet_tui.core.cli.sites"]
    assert command_modules(["submit", "job.yaml", "--dry-run"]) == ["srcnet_tui.core.cli.submit"]
    assert command_modules(["--help"]) == list(COMMAND_MODULES)
    assert command_modules(["nonsense"]) == list(COMMAND_MODULES)


def test_a_sessions_command_loads_no_pandas(tmp_path):
    code = "import sys\nfrom srcnet_tui.core.cli import build_parser\nbuild_parser(['sessions'])\nprint('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_command_has_a_description_and_version_exits_0():
    from srcnet_tui.core.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {name for name, parser in commands.items() if not parser.description} == set()
    done = subprocess.run([sys.executable, "-m", "srcnet_tui.core.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("srcnet-tui ")


@pytest.mark.parametrize(
    "argv0, prefix",
    [("/home/a/.venv/bin/srcnet-tui", "srcnet-tui --headless"), ("/x/srcnet", "srcnet --headless"),
     ("/x/core/cli/__main__.py", "srcnet-tui --headless")],
)  # fmt: skip
def test_hints_name_the_executable_the_user_ran(monkeypatch, argv0, prefix):
    from srcnet_tui.core.cli.output import command_prefix

    monkeypatch.setattr(sys, "argv", [argv0, "parallel"])
    assert command_prefix() == prefix
