"""A fast start: the app draws its first frame without pandas, plotting or the usage code, which the
Usage pane loads when first needed (the first frame took 1.44 s when they came first)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("pandas", "pyarrow", "plotext", "textual_plotext", "srcnet_tui.core.usage")
TUI_TESTS = Path(__file__).parent

FIRST_FRAME = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {tests!r})
    from tui_snapshot_data import PinnedPlatform
    from srcnet_tui.tui.app import make_app

    async def main():
        app = make_app([], platform=PinnedPlatform())
        built = [m for m in {heavy!r} if m in sys.modules]
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            drawn = [m for m in {heavy!r} if m in sys.modules]
            await pilot.press("4")
            await pilot.pause(0.2)
            shown = [m for m in {heavy!r} if m in sys.modules]
        print(built, drawn, shown, sep="\\n")

    asyncio.run(main())
    """
)


def test_the_first_frame_imports_nothing_heavy_and_the_usage_pane_loads_it(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "SRCNET_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path)}
    script = FIRST_FRAME.format(tests=str(TUI_TESTS), heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, check=True)
    built, drawn, shown = done.stdout.splitlines()[-3:]
    assert built == "[]", f"make_app imported {built}"
    assert drawn == "[]", f"the first frame imported {drawn}"
    assert "textual_plotext" in shown  # the Usage pane's charts, once it is shown
