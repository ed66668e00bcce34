"""What a pane may ask of the app it runs in, typed, so that mypy checks every use.

Panes reach the app's shared parts (settings, the platform connection, the clock, the header, the
problem modal) through :func:`services`, never through another pane; everything else between panes
goes by the messages of :mod:`srcnet_tui.tui.messages`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, cast

from textual.dom import DOMNode

from srcnet_tui.core.errors import SrcnetError
from srcnet_tui.core.settings import Settings
from srcnet_tui.tui.widgets.status_header import StatusHeader


class AppServices(Protocol):
    """The app's side of the contract (:class:`srcnet_tui.tui.app.SrcnetApp` provides it)."""

    settings: Settings
    platform: Any
    """A :class:`srcnet_tui.tui.platform.Platform`, or a stand-in with the same methods (tests, benchmark)."""
    clock: Callable[[], datetime]

    @property
    def status_header(self) -> StatusHeader: ...

    def show_problem(self, title: str, problem: str, kind: type[SrcnetError] = SrcnetError) -> None: ...


def services(node: DOMNode) -> AppServices:
    """The services of the app ``node`` runs in."""
    return cast(AppServices, node.app)
