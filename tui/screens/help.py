"""``?`` help: every key of the app, grouped by pane, as remapped by the user's keymap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from srcnet_tui.core.keymap_file import keymap_file
from srcnet_tui.tui.wording import shown_path

KEY_NAMES = {"question_mark": "?", "slash": "/", "colon": ":", "space": "space", "ctrl+backslash": "ctrl+\\"}


def key_text(binding: Binding, keymap: Mapping[str, str]) -> str:
    """The keys a binding answers to, after the user's keymap, as a person would type them."""
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    if isinstance(keys, (list, tuple)):
        keys = ",".join(keys)
    return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def bound_key(node: DOMNode, binding_id: str) -> str:
    """The key of one of ``node``'s bindings, as the user's keymap has it: for labels that name a key."""
    binding = next(b for b in node.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
    return key_text(binding, node.app._keymap)


def bindings_table(sections: list[tuple[str, list[Binding]]], keymap: Mapping[str, str]) -> Table:
    table = Table(expand=True, show_edge=False, box=None, padding=(0, 1))
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("action")
    table.add_column("id (for keymap.toml)", style="dim", no_wrap=True)
    for title, bindings in sections:
        table.add_row(Text(title, style="bold underline"), "", "")
        for binding in bindings:
            table.add_row(key_text(binding, keymap), binding.description or binding.action, binding.id or "")
        table.add_row("", "", "")
    return table


class HelpScreen(ModalScreen[None]):
    """All the keys; ``escape``, ``q`` or ``?`` close it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, sections: list[tuple[str, list[Binding]]], keymap: Mapping[str, str]) -> None:
        super().__init__(classes="modal")
        self._sections = sections
        self._keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(bindings_table(self._sections, self._keymap))
            yield Label(f'escape closes · remap keys in {shown_path(keymap_file())} (id = "keys")', classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
