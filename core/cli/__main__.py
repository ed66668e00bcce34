"""``python -m srcnet_tui.core.cli ...``: the headless CLI without the launcher (used to start the local daemon)."""

import sys

from srcnet_tui.core.cli import main

sys.exit(main())
