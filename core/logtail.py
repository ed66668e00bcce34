"""Following a log that the server always returns whole.

Skaha has no log offset and no follow mode: every request returns the session's entire log. A
follower keeps the offset of what it has shown and takes only the complete lines after it; the
CLI's ``logs --follow`` and the TUI's Logs pane share this bookkeeping.
"""

from __future__ import annotations


def new_text(text: str, offset: int, final: bool = False) -> tuple[str, int]:
    """The complete lines of ``text`` after ``offset`` (as one string), and the offset after them.

    A log shorter than the offset was replaced (a restarted session): it is read again from the start.
    With ``final`` (the session has ended) the unterminated last line is taken too.
    """
    if len(text) < offset:
        offset = 0
    end = len(text) if final else text.rfind("\n", offset) + 1
    if end <= offset:
        return "", offset
    return text[offset:end], end
