"""The seams hold at run time too (the import contracts in pyproject.toml check the source).

Importing every headless module loads no Textual, and the installed names cannot collide: outside
the checkout, ``core`` and ``tui`` are not importable, only ``srcnet_tui.core`` and ``srcnet_tui.tui``.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _core_modules() -> list[str]:
    return sorted(
        "srcnet_tui." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "core").rglob("*.py")
        if p.name != "__main__.py"
    )


def test_importing_every_core_module_loads_no_textual(tmp_path):
    code = "import sys\n" + "".join(f"import {m}\n" for m in _core_modules()) + "print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_only_the_namespaced_packages_are_importable_outside_the_checkout(tmp_path):
    def importable(name: str) -> bool:
        probe = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True)
        return probe.returncode == 0

    assert not importable("core") and not importable("tui")
    assert importable("srcnet_tui.core") and importable("srcnet_tui.tui")
