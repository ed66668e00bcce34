"""The srcnet-tui application shell (placeholder until the panes land)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static


class SrcnetApp(App):
    TITLE = "srcnet-tui"
    BINDINGS = [Binding("q", "quit", "Quit", id="app.quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("srcnet-tui")
        yield Footer()


def run_app(argv: list[str]) -> int:
    SrcnetApp().run()
    return 0
