"""The headless core must stay free of Textual, and the TUI free of HTTP/SQL/file formats."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_core_source_never_imports_textual():
    assert "textual" not in _imported_modules("core")


def test_importing_every_core_module_loads_no_textual():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "core").rglob("*.py")
        if p.name != "__main__.py"
    )
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tui_speaks_no_http_sql_or_file_formats():
    forbidden = {"httpx", "sqlite3", "pandas", "configparser", "csv", "tomllib", "json", "vos", "http", "urllib"}
    assert not (_imported_modules("tui") & forbidden)
