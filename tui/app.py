"""The srcnet-tui application: header, four panes in tabs, footer, help, palette and keymap.

The app owns what the panes share: the :class:`srcnet_tui.tui.platform.Platform` connection, the clock (injected
so snapshots can pin it), the header, and the routing of the messages panes post
(:mod:`srcnet_tui.tui.messages`) to the pane that acts on them: a poll of the Sessions pane feeds the
live charts of Usage and the title of Logs, the Runs pane's ``s`` filters Sessions. Each pane asks
the core for its data in its own workers (their failures all end in :mod:`srcnet_tui.tui.worker_errors`);
nothing here blocks the event loop.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platformdirs import user_downloads_path
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane

from srcnet_tui.core.errors import AuthError, SrcnetError, UsageError
from srcnet_tui.core.keymap_file import Keymap, load_keymap, unknown_ids_problem
from srcnet_tui.core.settings import Settings, add_global_options, from_args
from srcnet_tui.core.site_targets import site_settings
from srcnet_tui.core.sites import is_several
from srcnet_tui.tui.messages import FollowLogs, SessionsPolled, ShowEvents, ShowPane, ShowRunSessions, ShowRunUsage
from srcnet_tui.tui.panes.logs import LogsPane
from srcnet_tui.tui.panes.sessions import SessionsPane, events_table
from srcnet_tui.tui.panes.usage import UsagePane
from srcnet_tui.tui.platform import Platform, error_line
from srcnet_tui.tui.screens.help import HelpScreen
from srcnet_tui.tui.screens.modals import ConfirmModal, ProblemModal, PromptModal, TextModal, confirm
from srcnet_tui.tui.several_sites import SitesPlatform
from srcnet_tui.tui.widgets.status_header import StatusHeader, credential_label
from srcnet_tui.tui.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from srcnet_tui.tui.panes.runs import RunsPane


def runs_pane_class() -> type[RunsPane]:
    """The Runs pane, imported when first needed: it brings the whole run machinery of core (config,
    planning, the ledger, the client), which the first frame of the Sessions pane does not need."""
    from srcnet_tui.tui.panes.runs import RunsPane

    return RunsPane


def panes() -> tuple[tuple[str, str, type[Widget]], ...]:
    return (
        ("runs", "1 Runs", runs_pane_class()),
        ("sessions", "2 Sessions", SessionsPane),
        ("logs", "3 Logs", LogsPane),
        ("usage", "4 Usage", UsagePane),
    )


MOTION_KEYS = [
    Binding("up,down", "", "Move the cursor (in a form: previous/next field)"),
    Binding("pageup,pagedown", "", "A page up/down (scrolling up a log stops following it)"),
    Binding("home,end", "", "To the top/bottom (end in a log follows it again)"),
    Binding("tab,shift+tab", "", "Next/previous widget"),
    Binding("ctrl+q", "", "Quit, even from a text field"),
]
"""Keys Textual's widgets already answer; listed in help so that it names every key."""
MODALS = (HelpScreen, ConfirmModal, TextModal, PromptModal)
"""The app's own screens over the panes, whose keys can be remapped too."""
CREDENTIAL_CHECK_S = 30.0
ADVICE = {
    AuthError: "Get a fresh credential (cadc-get-cert writes ~/.ssl/cadcproxy.pem, or set SRCNET_TOKEN / "
    "CANFAR_TOKEN), then restart srcnet-tui. Polling continues meanwhile.",
    SrcnetError: "Fix what the message names, then try again.",
}


def default_screenshot_dir() -> Path:
    """Where screenshots go: ``$SRCNET_SCREENSHOT_DIR``, else the user's downloads folder."""
    return Path(os.environ.get("SRCNET_SCREENSHOT_DIR") or user_downloads_path()).expanduser()


def local_now() -> datetime:
    return datetime.now().astimezone()


def site_of(settings: Settings) -> str:
    """``local`` (the local server) or ``canfar ws-uv.canfar.net``: the backend and its host."""
    if not settings.url:
        return settings.backend
    host = settings.url.split("//", 1)[-1].split("/", 1)[0]
    return f"{settings.backend} {host}"


class SrcnetApp(ReportsWorkerErrors, App[None]):
    """Runs, Sessions, Logs and Usage over one platform connection."""

    CSS_PATH = "app.tcss"
    TITLE = "srcnet-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+p,colon", "command_palette", "Commands", show=False, id="app.commands", priority=True),
        Binding("1", "show_pane('runs')", "Runs", show=False, id="app.pane-runs"),
        Binding("2", "show_pane('sessions')", "Sessions", show=False, id="app.pane-sessions"),
        Binding("3", "show_pane('logs')", "Logs", show=False, id="app.pane-logs"),
        Binding("4", "show_pane('usage')", "Usage", show=False, id="app.pane-usage"),
        Binding("f8", "screenshot_now", "Screenshot", show=False, id="app.screenshot"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        platform: Any = None,
        clock: Callable[[], datetime] = local_now,
        keymap: Keymap | None = None,
        poll_interval: float = 2.0,
        log_max_lines: int = 10_000,
        start_pane: str = "sessions",
        startup_problems: list[str] | None = None,
        screenshot_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.platform = platform or Platform(settings)
        self.clock = clock
        self.poll_interval = poll_interval
        self.log_max_lines = log_max_lines
        self.start_pane = start_pane
        self.user_keymap = keymap or {}
        self._problems_shown: set[str] = set()
        self._startup_problems = startup_problems or []
        self.screenshot_dir = screenshot_dir or default_screenshot_dir()
        self.set_keymap(self.user_keymap)  # before the panes compose: their hints name keys as remapped

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status-header")
        with TabbedContent(initial=self.start_pane, id="panes"):
            with TabPane("1 Runs", id="runs"):
                if self.start_pane == "runs":
                    yield runs_pane_class()(id="runs-pane")
            with TabPane("2 Sessions", id="sessions"):
                yield SessionsPane(interval=self.poll_interval, id="sessions-pane")
            with TabPane("3 Logs", id="logs"):
                yield LogsPane(interval=self.poll_interval, max_lines=self.log_max_lines, id="logs-pane")
            with TabPane("4 Usage", id="usage"):
                yield UsagePane(id="usage-pane")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def status_header(self) -> StatusHeader:
        return self.query_one(StatusHeader)

    def on_mount(self) -> None:
        header = self.status_header
        header.site = self.platform.label if isinstance(self.platform, SitesPlatform) else site_of(self.settings)
        if self.settings.backend == "local":
            header.user = getpass.getuser()
        self.check_credential()
        self.set_interval(CREDENTIAL_CHECK_S, self.check_credential)
        self.show_pane(self.start_pane)
        for problem in self._startup_problems:
            self.show_problem("Cannot read a settings file", problem)
        self.call_after_refresh(self.after_first_frame)

    async def after_first_frame(self) -> None:
        """What the first frame need not wait for: the Runs pane (unless it is shown first), and the
        check of keymap.toml's ids against every pane's bindings."""
        if not self.query("#runs-pane"):
            await self.query_one("#runs", TabPane).mount(runs_pane_class()(id="runs-pane"))
        unknown = unknown_ids_problem(self.user_keymap, self.binding_ids())
        if unknown:
            self.show_problem("Unknown ids in keymap.toml", unknown)

    async def on_unmount(self) -> None:
        try:
            await self.platform.aclose()
        except (SrcnetError, OSError, RuntimeError):  # closing a dead connection must not stop the app from exiting
            pass

    # ---- header -------------------------------------------------------------------------------

    @work(exclusive=True, group="credential", exit_on_error=False, description="check the credential")
    async def check_credential(self) -> None:
        try:
            status = await self.platform.credential()
        except (SrcnetError, OSError) as exc:
            self.status_header.credential = "unknown"
            self.log.warning(f"credential check failed: {error_line(exc)}")
            return
        self.status_header.credential = credential_label(status)
        self.status_header.credential_warning = bool(status.problem) or (
            status.seconds_left is not None and status.seconds_left < 3600
        )
        if status.problem:
            self.show_problem("No usable credential", status.problem, AuthError)

    # ---- shared actions -----------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification as plain text: messages carry ``[section]`` names, paths and server
        text (core makes it one clean line), none of it meant as Textual markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def show_problem(self, title: str, problem: str, kind: type[SrcnetError] = SrcnetError) -> None:
        """A blocking problem as a modal that says what to do (once; a repeat is only a notification)."""
        if problem in self._problems_shown:
            self.notify(problem, title=title, severity="error")
            return
        self._problems_shown.add(problem)
        advice = ADVICE.get(kind, ADVICE[SrcnetError])
        self.push_screen(ProblemModal(title, problem, advice))

    def action_show_pane(self, pane: str) -> None:
        self.show_pane(pane)

    def show_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane
        self.focus_pane(pane)

    def focus_pane(self, pane: str) -> None:
        """Focus the pane's main widget at once, so that the keys pressed next go to this pane (a
        deferred focus could land after the hidden pane's widget took focus back and re-selected it)."""
        target = {"runs": "#runs-ledger", "sessions": "#sessions-table", "logs": "#logs-view", "usage": "#usage-runs"}[pane]
        widgets = self.query(target)
        if widgets:
            self.screen_stack[0].set_focus(widgets.first())  # under a modal: focused when it closes

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            self.focus_pane(event.pane.id)

    # ---- messages from the panes, routed to the pane that acts on them ---------------------------

    @on(ShowPane)
    def _show_pane(self, message: ShowPane) -> None:
        self.show_pane(message.pane)

    @on(ShowEvents)
    def _show_events(self, message: ShowEvents) -> None:
        self.show_events(message.session)

    @work(group="events", exit_on_error=False, description="read the session's events")
    async def show_events(self, session: Any) -> None:
        """Fetch a session's events and show them in a modal."""
        client = await self.platform.client()
        text = await client.events(session.id)
        self.push_screen(TextModal(f"Events of {session.name} ({session.id})", events_table(text)))

    @on(FollowLogs)
    def _follow_logs(self, message: FollowLogs) -> None:
        self.query_one(LogsPane).show_session(message.session)
        self.show_pane("logs")

    @on(ShowRunSessions)
    def _show_run_sessions(self, message: ShowRunSessions) -> None:
        self.query_one(SessionsPane).apply_filter(message.run_id)
        self.show_pane("sessions")

    @on(ShowRunUsage)
    def _show_run_usage(self, message: ShowRunUsage) -> None:
        self.query_one(UsagePane).open_run(message.run)
        self.show_pane("usage")

    @on(SessionsPolled)
    def _sessions_polled(self, message: SessionsPolled) -> None:
        try:
            logs, usage = self.query_one(LogsPane), self.query_one(UsagePane)
        except NoMatches:  # a poll that came back while the app closes: the panes are gone
            return
        logs.session_changed(message.sessions)
        usage.record_live(message.sessions, message.at)
        for runs in self.query("#runs-pane").results(runs_pane_class()):  # none while the first poll beats its mount
            runs.sessions_polled(message.sessions)
        if not self.status_header.user and message.sessions:
            self.status_header.user = message.sessions[0].userid

    async def action_quit(self) -> None:
        """Quit; ask first while this app is driving a run or holds unsaved config edits."""
        question = self.quit_question()
        if question is None:
            self.exit()
            return
        confirm(self, *question, self.exit)

    def quit_question(self) -> tuple[str, str] | None:
        """What quitting would cost, as a confirmation's title and body (None: nothing)."""
        if any(w.group == "runs-launch" and w.is_running for w in self.workers):
            body = "A run launched or resumed here is still being watched and collected.\nQuit anyway? Resume it later from Runs (r)."
            return "Quit while a run is in progress?", body
        unsaved = self.query_one("#runs-pane", runs_pane_class()).form.unsaved_edits()
        if unsaved is not None:
            return "Quit with unsaved edits?", f"{unsaved}\nQuit anyway?"
        return None

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections(), self._keymap))

    def help_sections(self) -> list[tuple[str, list[Binding]]]:
        """Every binding of the app, grouped by where it works (for help and the palette)."""
        sections = [("Everywhere", _own_bindings(type(self)))]
        sections += [
            (label.split(" ", 1)[1], [b for part in pane_parts(cls) for b in _own_bindings(part)]) for _, label, cls in panes()
        ]
        return [*sections, ("Tables and logs", MOTION_KEYS)]

    def binding_ids(self) -> set[str]:
        """Every id keymap.toml can remap: the panes', the app's and its modal screens'."""
        listed = [b for _, bindings in self.help_sections() for b in bindings]
        screens = [b for cls in MODALS for b in _own_bindings(cls)]
        return {b.id for b in [*listed, *screens] if b.id}

    def action_screenshot_now(self) -> None:
        try:
            path = self.save_screenshot()
        except OSError as exc:
            self.notify(f"{exc.filename or self.screenshot_dir}: {exc.strerror or exc}", title="Screenshot", severity="error")
            return
        self.notify(f"Saved {path}", title="Screenshot")

    def save_screenshot(self, filename: str | None = None, path: str | None = None, time_format: str | None = None) -> str:
        """An SVG of the screen, into the screenshot folder (created when missing) unless ``path`` says otherwise."""
        return super().save_screenshot(filename, self._screenshot_folder(path), time_format)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """The palette's Screenshot: saved where F8 saves it."""
        try:
            folder = self._screenshot_folder(path)
        except OSError as exc:
            self.notify(f"{exc.filename or self.screenshot_dir}: {exc.strerror or exc}", title="Screenshot", severity="error")
            return None
        return super().deliver_screenshot(filename, folder, time_format)

    def _screenshot_folder(self, path: str | None) -> str:
        folder = Path(path).expanduser() if path else self.screenshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers every pane action as ``pane: description``, plus Textual's own."""
        yield from super().get_system_commands(screen)
        for pane, label, cls in panes():
            yield SystemCommand(f"go: {label.split(' ', 1)[1]}", f"Show the {pane} pane", lambda p=pane: self.show_pane(p))
            for part in pane_parts(cls):
                for binding in _own_bindings(part):
                    if binding.description and binding.action not in ("back",):
                        yield SystemCommand(
                            f"{pane}: {binding.description.lower()}",
                            f"key {binding.key}",
                            lambda p=pane, w=part, a=binding.action: self._run_in_pane(p, w, a),
                        )

    def _run_in_pane(self, pane: str, part: type[Widget], action: str) -> None:
        self.show_pane(pane)
        self.call_after_refresh(self.run_action, action, self.query_one(part))


def pane_parts(cls: type[Widget]) -> list[type[Widget]]:
    """A pane and the parts it is composed of that declare keys of their own (the Runs pane's form and ledger)."""
    return [cls, *getattr(cls, "PARTS", ())]


def _own_bindings(cls: type) -> list[Binding]:
    """The bindings a class declares itself (not those it inherits)."""
    return [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]


def make_app(argv: list[str] | None = None, **options: Any) -> SrcnetApp:
    """The app as the console script builds it: settings from flags/env/config, keymap from its file."""
    import argparse

    from srcnet_tui.core import __version__

    parser = argparse.ArgumentParser(
        prog="srcnet-tui",
        description="Keyboard-driven terminal UI for SRCNet workloads.",
        epilog="Scripts and cron: srcnet-tui --headless COMMAND ... (srcnet-tui --headless --help lists the commands).",
    )
    parser.add_argument("--version", action="version", version=f"srcnet-tui {__version__}")
    parser.add_argument("--headless", action="store_true", help="run a command without the UI (see the epilog)")
    add_global_options(parser)
    args = parser.parse_args(argv or [])
    chosen, several = args.site, bool(args.site and is_several(args.site))
    if several:
        args.site = None  # the home site: where runs launch; the Sessions pane lists every chosen site
    settings = from_args(args)
    if several and "platform" not in options:
        chosen_sites = site_settings(chosen, settings.state_dir)
        targets, skipped = chosen_sites.reachable, chosen_sites.not_asked()
        options["platform"] = SitesPlatform(settings, targets, skipped, options.get("clock", local_now))
    if "keymap" not in options:
        try:
            options["keymap"] = load_keymap()
        except UsageError as exc:  # a broken keymap must not keep the app from starting
            options["startup_problems"] = [str(exc)]
    return SrcnetApp(settings, **options)


def run_app(argv: list[str]) -> int:
    try:
        app = make_app(argv)
    except SrcnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    app.run()
    return 0
