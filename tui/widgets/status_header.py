"""The one-line header: which platform, which user, how long the credential lasts, how fresh the data is."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from srcnet_tui.core.credentials import CredentialStatus


def format_time_left(seconds: float | None) -> str:
    """``3h12m`` / ``45m`` / ``expired``; None means the credential never expires (local server)."""
    if seconds is None:
        return "no expiry"
    if seconds <= 0:
        return "expired"
    minutes = int(seconds) // 60
    if minutes >= 24 * 60:
        return f"{minutes // 1440}d{minutes % 1440 // 60}h"
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def credential_label(status: CredentialStatus) -> str:
    """What the header says of a credential: the time it has left, or in a word why it is unusable."""
    if status.problem is None:
        return format_time_left(status.seconds_left)
    if status.expires_at is None:
        return "missing"
    return "expired" if status.seconds_left == 0 else "not yet valid"


class StatusHeader(Widget):
    """Backend/site, user, credential time left and the poll state (fresh, stale since, frozen)."""

    site: reactive[str] = reactive("")
    user: reactive[str] = reactive("")
    credential: reactive[str] = reactive("")
    credential_warning: reactive[bool] = reactive(False)
    updated_at: reactive[datetime | None] = reactive(None)
    stale_since: reactive[datetime | None] = reactive(None)
    """Time of the last good poll while the platform is unreachable; None when data is fresh."""
    frozen: reactive[bool] = reactive(False)

    def render(self) -> Text:
        text = Text.assemble(("srcnet-tui", "bold"), " │ ", (self.site, "bold cyan"))
        if self.user:
            text.append(f" │ {self.user}")
        if self.credential:
            style = "bold red" if self.credential_warning else ""
            text.append(" │ cred ")
            text.append(self.credential, style=style)
        text.append(" │ ")
        text.append_text(self._poll_state())
        return text

    def _poll_state(self) -> Text:
        if self.frozen:
            return Text("FROZEN (f)", style="bold reverse yellow")
        if self.stale_since is not None:
            return Text(f"stale since {self.stale_since:%H:%M:%S}", style="bold reverse red")
        if self.updated_at is not None:
            return Text(f"updated {self.updated_at:%H:%M:%S}", style="dim")
        return Text("connecting…", style="dim")
