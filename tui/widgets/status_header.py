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
    trouble: reactive[str] = reactive("")
    """What the client could tell of why the platform does not answer ("local server hung"), while stale."""
    retry_in_s: reactive[int | None] = reactive(None)
    """Seconds until the next poll while stale; None while a poll is out (or the data is fresh)."""
    gives_up_in_s: reactive[int | None] = reactive(None)
    """Seconds until the poll that is out gives up, while stale; None while none is out."""
    freeze_key: reactive[str] = reactive("f")
    """The key that freezes and unfreezes (as remapped)."""
    retry_key: reactive[str] = reactive("ctrl+r")
    """The key that polls at once (as remapped)."""

    def render(self) -> Text:
        """The longest version that fits the width: the user gives way first, then the retry hint
        shortens, then the credential goes; the poll state always shows."""
        parts = self._parts()
        name, rest = parts[0], parts[1:]
        without_user = [name, *rest[1:]] if self.user else parts
        candidates = [(parts, True), (without_user, True), (without_user, False), ([name], True)]
        for shown, long in candidates:
            text = Text(" │ ").join([*shown, self._poll_state(long)])
            if text.cell_len <= self.size.width - 2:
                return text
        return text

    def _parts(self) -> list[Text]:
        """Name and site, the user (when known), the credential (when known)."""
        parts = [Text.assemble(("srcnet-tui", "bold"), " │ ", (self.site, "bold cyan"))]
        if self.user:
            parts.append(Text(self.user))
        if self.credential:
            style = "bold red" if self.credential_warning else ""
            parts.append(Text.assemble("cred ", (self.credential, style)))
        return parts

    def _poll_state(self, long: bool = True) -> Text:
        if self.frozen:
            return Text(f"FROZEN ({self.freeze_key})", style="bold reverse yellow")
        if self.stale_since is not None:
            text = Text(f"stale since {self.stale_since:%H:%M:%S}", style="bold reverse red")
            if self.trouble:
                text.append(f" · {self.trouble}", style="bold reverse red")
            if self.gives_up_in_s is not None:
                if long:
                    return text.append(
                        f" · no answer yet, gives up in {self.gives_up_in_s} s — {self.retry_key} retries", style="bold"
                    )
                return text.append(f" · asking {self.gives_up_in_s} s, {self.retry_key}", style="bold")
            if self.retry_in_s is None:
                return text.append(" · asking…", style="bold")
            if long:
                return text.append(f" · retrying in {self.retry_in_s} s — {self.retry_key} now", style="bold")
            return text.append(f" · retry {self.retry_in_s} s, {self.retry_key}", style="bold")
        if self.updated_at is not None:
            return Text(f"updated {self.updated_at:%H:%M:%S}", style="dim")
        return Text("connecting…", style="dim")
