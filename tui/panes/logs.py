"""The Logs pane: follows one session's log, appending only what is new since the last fetch.

A worker loop fetches the log every ``interval`` seconds (never two fetches at once) and hands the
new complete lines to the view; it stops after a last fetch once the session has finished. ``s`` or
``end`` resume following after the user scrolled up, ``ctrl+s`` saves the whole log to a file, ``/``
searches it (``n``/``N`` the next/previous match), and ``e`` shows the session's events. The title
follows the session's state, also once it is no longer listed (deleted).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from srcnet_tui.core.backoff import Backoff
from srcnet_tui.core.errors import NotFound, SrcnetError
from srcnet_tui.tui.keymap import keys
from srcnet_tui.tui.messages import ShowEvents, ShowPane
from srcnet_tui.tui.platform import error_line
from srcnet_tui.tui.screens.help import bound_key
from srcnet_tui.tui.screens.modals import prompt
from srcnet_tui.tui.services import services
from srcnet_tui.tui.widgets.log_view import DEFAULT_MAX_LINES, LogView, take_new_lines
from srcnet_tui.tui.widgets.sessions_table import short_name
from srcnet_tui.tui.worker_errors import ReportsWorkerErrors

MAX_PAUSE_S = 60.0
"""The longest pause between fetches while the platform does not answer."""


class LogsPane(ReportsWorkerErrors, Vertical):
    """Title line + :class:`LogView` for the session chosen in the Sessions pane."""

    BINDINGS = keys(
        "logs",
        ("s", "follow", "Follow"),
        ("slash", "search", "Search"),
        ("n", "next_match", "Next match"),
        ("N", "previous_match", "Previous match", False),
        ("ctrl+s", "save", "Save"),
        ("e", "events", "Events"),
        ("escape", "back", "Back"),
        priority=("search",),
    )

    def __init__(self, interval: float = 2.0, max_lines: int = DEFAULT_MAX_LINES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = interval
        self.max_lines = max_lines
        self.session: Any = None
        self.log_offset = 0
        self.finished = False
        self.gone = False
        """The followed session is no longer listed (deleted, or gone with its log)."""

    def compose(self) -> ComposeResult:
        yield Static("No session chosen: pick one in Sessions (2) and press l.", id="logs-title")
        yield LogView(max_lines=self.max_lines, id="logs-view")
        keys = [self._key(name) for name in ("search", "next-match", "previous-match", "back")]
        hint = f"{keys[0]} search the log   (enter finds, {keys[1]}/{keys[2]} next/previous, {keys[3]} closes)"
        yield Input(placeholder=hint, id="logs-search", compact=True)

    @property
    def search_box(self) -> Input:
        return self.query_one("#logs-search", Input)

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.search_box.display = False
        self.watch(self.view, "follow", self._show_title, init=False)

    def show_session(self, session: Any) -> None:
        """Start following ``session`` from the beginning of its log."""
        self.session = session
        self.log_offset = 0
        self.finished = False
        self.gone = False
        self.view.clear()
        self.view.follow = True
        self._show_title()
        self.follow_loop()

    def session_changed(self, sessions: list[Any]) -> None:
        """A poll of the Sessions pane: notice when the followed session has finished or vanished."""
        if self.session is None:
            return
        latest = next((s for s in sessions if s.id == self.session.id), None)
        if latest is None and not self.gone:
            self.gone = True
            self._show_title()
        elif latest is not None and latest != self.session:
            self.session = latest
            self._show_title()

    @work(exclusive=True, group="logs-follow", exit_on_error=False, description="follow the log")
    async def follow_loop(self) -> None:
        failures = 0
        while not self.finished:
            final = self.session.is_terminal
            try:
                client = await services(self).platform.client()
                text = await client.logs(self.session.id)
            except NotFound:
                self.notify(f"{self.session.name} ({self.session.id}) is gone; its log with it.", title="Logs")
                self.finished = self.gone = True
                self._show_title()
                return
            except SrcnetError as exc:  # a lost network only pauses the log
                if failures == 0:
                    self.notify(error_line(exc), title=f"Log of {self.session.name}", severity="warning")
                failures += 1
            else:
                failures = 0
                self.append(text, final)
                self.finished = final
            await asyncio.sleep(Backoff(first_s=self.interval, cap_s=MAX_PAUSE_S).pause(failures))

    def append(self, text: str, final: bool = False) -> int:
        """Write the part of ``text`` not shown yet; the number of new lines."""
        if len(text) < self.log_offset:
            self.view.clear()
        lines, self.log_offset = take_new_lines(text, self.log_offset, final)
        if lines:
            self.view.write_lines(lines)
            self._show_title()
        return len(lines)

    def _show_title(self) -> None:
        if self.session is None:
            return
        s = self.session
        status = Text("deleted", style="bold red") if self.gone else Text(s.status)
        title = Text.assemble((f"{short_name(s.name)} ({s.id})", "bold"), " · ", status, " · ")
        if self.view.search:  # before what matters less: a narrow title is cut at its end
            title.append_text(self._search_state())
        title.append_text(self._mode()).append(f" · {self.view.line_count} lines")
        self.query_one("#logs-title", Static).update(title)

    def _mode(self) -> Text:
        """Following, or paused (and how to resume)."""
        if self.view.follow:
            return Text("following", style="bold green")
        return Text(f"paused ({self._key('follow')} follows)", style="bold yellow")

    def _search_state(self) -> Text:
        view = self.view
        where = f"{view.current_match + 1}/{len(view.matches)}" if view.current_match is not None else "no match"
        return Text(f"“{view.search}” {where} · ", style="bold yellow")

    def _key(self, name: str) -> str:
        return bound_key(self, f"logs.{name}")

    def action_search(self) -> None:
        """Into the search line, at once: the keys typed right after ``/`` are the search's."""
        box = self.search_box
        if box.has_focus:
            raise SkipAction  # a "/" typed in the search itself
        box.value = self.view.search
        box.display = True
        self.screen.set_focus(box)

    @on(Input.Submitted, "#logs-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.view.find(event.value)
        self.search_box.display = False
        self.view.focus()
        self._show_title()

    def action_next_match(self) -> None:
        self.view.next_match(1)
        self._show_title()

    def action_previous_match(self) -> None:
        self.view.next_match(-1)
        self._show_title()

    def action_follow(self) -> None:
        self.view.follow = True

    def action_back(self) -> None:
        """Close the search line when it is open; else back to Sessions."""
        if self.search_box.has_focus:
            self.search_box.display = False
            self.view.focus()
            return
        self.post_message(ShowPane("sessions"))

    def action_events(self) -> None:
        if self.session is not None:
            self.post_message(ShowEvents(self.session))

    def action_save(self) -> None:
        if self.session is None:
            return
        default = f"{self.session.name}-{self.session.id}.log"
        prompt(self.app, "Save the log to", default, lambda path: self.save(Path(path).expanduser()))

    @work(group="logs-save", exit_on_error=False, description="save the log")
    async def save(self, path: Path) -> None:
        """Write the whole log (fetched again, so lines past the cap are kept) to ``path``."""
        try:
            client = await services(self).platform.client()
            text = await client.logs(self.session.id)
        except SrcnetError:  # the platform is gone: the lines shown are what there is
            text = "\n".join(self.view.lines) + "\n"
        try:
            await asyncio.to_thread(path.write_text, text)
        except OSError as exc:
            self.notify(f"{path}: {exc.strerror or exc}", title="Log not saved", severity="error")
            return
        self.notify(f"Saved {text.count(chr(10))} lines to {path}.", title="Log saved")
