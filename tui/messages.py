"""The messages panes send to the app, which routes them to the pane that acts on them.

A pane never reaches into another pane: it posts one of these (they bubble up to the app), and the
app, which owns the panes, calls the receiving pane and switches tabs. A pane may query only its
own children.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.message import Message


class ShowPane(Message):
    """Bring a pane to the front (``runs``, ``sessions``, ``logs`` or ``usage``)."""

    def __init__(self, pane: str) -> None:
        super().__init__()
        self.pane = pane


class FollowLogs(Message):
    """Follow a session's log in the Logs pane."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session


class ShowEvents(Message):
    """Show a session's events in a modal."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session


class ShowRunSessions(Message):
    """Show only one run's sessions in the Sessions pane (the run id is in every session name)."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class ShowRunUsage(Message):
    """Show a run of the ledger in the Usage pane (its profile logs, with the cores each task requested)."""

    def __init__(self, run: Any) -> None:
        super().__init__()
        self.run = run


class SessionsPolled(Message):
    """A poll of the Sessions pane came back: the sessions and when (Logs, Usage and Runs follow it)."""

    def __init__(self, sessions: list[Any], at: datetime) -> None:
        super().__init__()
        self.sessions = sessions
        self.at = at
