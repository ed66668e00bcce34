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
    assert command_modules(["--help"]) == list(COMMAND_MODULES)
    assert command_modules(["nonsense"]) == list(COMMAND_MODULES)


def test_a_sessions_command_loads_no_pandas(tmp_path):
    code = "import sys\nfrom srcnet_tui.core.cli import build_parser\nbuild_parser(['sessions'])\nprint('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
