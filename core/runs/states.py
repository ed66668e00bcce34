"""The states of a run's tasks in the ledger, on their own so that a pane can count them without the ledger.

The ledger (:mod:`srcnet_tui.core.runs.ledger`) imports SQLite and the platform client; the TUI's Runs
pane only needs these names to turn a run's counts into a progress bar before its first frame.
"""

PLANNED, LAUNCHING, LAUNCHED = "planned", "launching", "launched"
COMPLETED, NO_SOURCES, FAILED, LOST = "completed", "no-sources", "failed", "lost"
TASK_STATES = (PLANNED, LAUNCHING, LAUNCHED, COMPLETED, NO_SOURCES, FAILED, LOST)
FINISHED_STATES = frozenset({COMPLETED, NO_SOURCES, FAILED, LOST})
SUCCESS_STATES = frozenset({COMPLETED, NO_SOURCES})
RETRYABLE_STATES = (FAILED, LOST)
PREEMPTED = "preempted"
"""An attempt's state (never a task's) when the platform ended it to start it again later."""
