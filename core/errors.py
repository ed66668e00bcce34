"""Errors a user can meet, each carrying the exit code of the command-line contract.

Every failure that is the user's or the platform's (not a bug) is raised as one of these, with a
message that names the file, field or session involved. The CLI prints ``str(error)`` as one line
on stderr and exits with ``error.exit_code``; the TUI shows the same text in a notification or modal.
"""


class SrcnetError(Exception):
    """Base of every expected failure; never shown with a traceback."""

    exit_code = 1


class TaskFailed(SrcnetError):
    """A session or a run ended in failure (exit 1)."""

    exit_code = 1


class UsageError(SrcnetError):
    """Bad usage, configuration or input file (exit 2).

    ``key`` names the configuration key (or command-line field) the error concerns, when there is
    one, so that a form can mark that field without reading the message.
    """

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class NotFound(UsageError):
    """A session, run or file the user named does not exist (exit 2)."""


class Rejected(UsageError):
    """The platform refused a request as invalid (HTTP 400); the message is the server's (exit 2)."""


class AuthError(SrcnetError):
    """Authentication refused, or the credential is missing or expired (exit 3)."""

    exit_code = 3


class Unreachable(SrcnetError):
    """The platform could not be reached after retries (exit 4)."""

    exit_code = 4
