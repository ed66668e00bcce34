"""One place that tells the user a worker failed, for the app and every widget that runs workers.

Workers run with ``exit_on_error=False`` and catch only the errors their widget reacts to in its own
way; anything else ends the worker, and :class:`ReportsWorkerErrors` turns it into one notification:
a core error as its own plain line, anything unexpected (a bug) as one line naming it, with the
traceback in the Textual log. A worker's ``description`` completes "Could not ..." in the title.
"""

from __future__ import annotations

import traceback
from typing import Any

from textual.worker import Worker, WorkerState

from srcnet_tui.core.errors import SrcnetError
from srcnet_tui.tui.platform import error_line


class ReportsWorkerErrors:
    """Mixin: a worker of this node that ends in an error becomes a notification."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            report_failure(event.worker)


def report_failure(worker: Worker[Any]) -> None:
    """Notify the user that ``worker`` failed, and why."""
    error = worker.error
    if error is None:
        return
    app = worker.node.app
    title = f"Could not {worker.description}"
    if isinstance(error, SrcnetError):
        app.notify(str(error), title=title, severity="error")
        return
    app.log.error("".join(traceback.format_exception(error)))
    app.notify(f"Unexpected error (a bug; the app goes on): {error_line(error)}", title=title, severity="error")
