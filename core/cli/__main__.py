"""``python -m core.cli ...``: the headless CLI without the launcher (used to start the local daemon)."""

import sys

from core.cli import main

sys.exit(main())
