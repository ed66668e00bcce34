"""A fast Runs-first start: the Runs pane's form and its calls into core import none of core's run
machinery (the ledger, the plan, the client: httpx, psutil, SQLite, configupdater, about 90 ms)
until a config is opened or the ledger is read."""

from __future__ import annotations

import subprocess
import sys

RUN_MACHINERY = ("httpx", "psutil", "sqlite3", "configupdater", "srcnet_tui.core.runs.ledger", "srcnet_tui.core.runs.plan")
IMPORTS = "import sys, srcnet_tui.tui.panes.config_form, srcnet_tui.tui.runs_adapter, srcnet_tui.tui.run_config"


def test_the_form_and_its_adapter_import_no_run_machinery_until_used():
    check = f"print([m for m in {RUN_MACHINERY!r} if m in sys.modules])"
    used = "from srcnet_tui.tui.run_config import form_keys; form_keys('command'); " + check
    done = subprocess.run([sys.executable, "-c", f"{IMPORTS}; {check}; {used}"], capture_output=True, text=True, check=True)
    imported, after_use = done.stdout.splitlines()
    assert imported == "[]", f"importing the Runs pane's form brought {imported}"
    assert "configupdater" in after_use  # core's config reader, once the form asks it
