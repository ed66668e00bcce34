"""Small modal screens shared by every pane.

Destructive actions ask first (:class:`ConfirmModal`, posting's pattern); blocking problems such as a
missing credential or a bad config say what to do (:class:`ProblemModal`, harlequin's ErrorModal);
details, events and anything else read-only open in :class:`TextModal`; :class:`PromptModal` asks for
one line (a file name, a folder).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmModal(ModalScreen[bool]):
    """Ask a yes/no question; ``y`` confirms, ``n`` or ``escape`` declines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str) -> None:
        super().__init__(classes="modal")
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield VerticalScroll(Static(Text(self._body)), classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TextModal(ModalScreen[None]):
    """Show read-only text (session details, events, a problem) until ``escape``/``q``/``enter``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close", id="modal.close")]

    def __init__(self, title: str, body: RenderableType, *, classes: str = "modal") -> None:
        super().__init__(classes=classes)
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield VerticalScroll(Static(self._body, id="text-body"), classes="dialog-body")
            yield Label("escape to close", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


class ProblemModal(TextModal):
    """A blocking problem: what went wrong and what to do about it."""

    def __init__(self, title: str, problem: str, advice: str) -> None:
        body = Text.assemble((problem, "bold"), "\n\n", advice)
        super().__init__(title, body, classes="modal problem")


class PromptModal(ModalScreen[str | None]):
    """Ask for one line of text; ``enter`` accepts, ``escape`` cancels (returns None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="modal")
        self._title = title
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog prompt"):
            yield Label(self._title, classes="dialog-title")
            yield Input(self._value, placeholder=self._placeholder, id="prompt-input")
            yield Label("enter to accept, escape to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def confirm(app: Any, title: str, body: str, on_yes: Callable[[], object]) -> None:
    """Ask a yes/no question; ``on_yes()`` runs only when the user says yes."""
    app.push_screen(ConfirmModal(title, body), lambda yes: on_yes() if yes else None)


def prompt(app: Any, title: str, value: str, on_text: Callable[[str], object]) -> None:
    """Ask for one line, starting from ``value``; ``on_text(text)`` runs unless it was cancelled or empty."""
    app.push_screen(PromptModal(title, value), lambda text: on_text(text) if text else None)
