"""The task side: what runs inside a session (the recorder, the task runner, the finder wrappers).

The task image copies this folder alone, so nothing here may import anything but the standard
library, psutil and its own modules (an import-linter contract and tests/unit/test_image.py hold it).
"""
