"""The quickstart as a script: ``python examples/quickstart.py [--dir DIR]``.

Same as ``srcnet-tui --headless quickstart``: generates a synthetic radio image, splits it into
regions and runs PyBDSF on each as a session of the local server, then prints the usage table.
Needs the examples extra: ``pip install -e '.[examples]'``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcnet_tui.core.cli import main

if __name__ == "__main__":
    sys.exit(main(["quickstart", *sys.argv[1:]]))
