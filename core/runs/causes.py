"""Why a task ended as it did, in words a user can act on, and what to change before retrying it.

Skaha reports only ``Failed``: out of memory, a deadline and a non-zero exit all read the same, and
there is no exit code. The evidence is what the task left behind — the recorder's summary (exit
code, signal, peak RSS), the session's events (Kubernetes' ``OOMKilled``, ``DeadlineExceeded``) and
the finder's log — and :func:`classify` turns it into a :class:`Cause`: a state named as sacct names
them, one line saying what happened, and advice fitted to what the site offers (its RAM options).
"""

from __future__ import annotations

import math
import re
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from srcnet_tui.core.runs import ledger as L
from srcnet_tui.core.runs.ledger import TaskRecord
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.skaha import _context_options

COMPLETED, FAILED, OOM, DEADLINE, DELETED, PREEMPTED, LOST = (
    "completed", "failed", "oom", "deadline", "deleted", "preempted", "lost",
)  # fmt: skip
STATES = (COMPLETED, FAILED, OOM, DEADLINE, DELETED, PREEMPTED, LOST)
MIB_PER_GB = 1024.0
"""The recorder measures MiB; a ``ram`` request is in the platform's GB (GiB, as Skaha means them)."""
RAM_MARGIN = 1.25
"""Advised RAM: the peak the task reached, with this much headroom, rounded up to an offered value."""
NEAR_LIMIT = 0.9
"""A SIGKILLed task whose peak came this close to its request was killed for memory."""
SOFIA_EXIT_CODES = {
    1: ("SoFiA-2 failed", "read its ERROR line in the log"),
    2: ("SoFiA-2 met a NULL pointer (an internal error)", "report it with the log; retrying will not help"),
    3: ("SoFiA-2 could not allocate memory", None),
    4: ("SoFiA-2 indexed outside an array", "check input.region against the cube's size"),
    5: ("SoFiA-2 could not read or write a file", "check input.data and output.directory, then retry"),
    6: ("SoFiA-2 overflowed an integer (the cube or region is too large)", "split the cube into smaller regions"),
    7: ("SoFiA-2 rejected its input", "fix the parameter the ERROR line names, then retry"),
}
"""SoFiA-2's exit codes (``common.h``): what each means and what to do (3 is advised from the RAM)."""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RAM_ADVICE = re.compile(r"retry with --ram (\d+)")


@dataclass(frozen=True)
class Cause:
    """How a task (an attempt of it) ended: ``state`` one of :data:`STATES`, ``text`` one line a user
    can act on, ``advice`` what to change before retrying (None: nothing to say), ``tail`` the
    finder's last log lines when it failed."""

    state: str
    text: str
    advice: str | None = None
    tail: tuple[str, ...] = ()


def classify(
    task: TaskRecord,
    summary: dict | None,
    events: Sequence[dict],
    *,
    ram_options: Iterable[int] = (),
    tail: Sequence[str] = (),
    peak_gb: float | None = None,
) -> Cause:
    """The cause of ``task``'s end (its ledger state decides first), from its recorder ``summary``,
    its session's ``events`` (rows of :func:`srcnet_tui.core.models.parse_events`) and its log's
    last lines. ``ram_options`` are the RAM values the site offers; ``peak_gb`` the peak RSS the
    profile log saw, for when no summary says it (a task killed with its recorder)."""
    if task.state == L.COMPLETED:
        return Cause(COMPLETED, "completed")
    if task.state == L.NO_SOURCES:
        return Cause(COMPLETED, "no sources found")
    if task.state == L.LOST:
        return Cause(LOST, task.message or "lost: the session vanished before its result was seen", "retry relaunches it")
    return _failure(task, summary or {}, list(events), sorted(set(ram_options)), tuple(tail), peak_gb)


def preempted(at: float | None) -> Cause:
    """The cause of an attempt the platform ended in order to start it again later."""
    when = f" at {time.strftime('%H:%M', time.gmtime(at))} UTC" if at else ""
    return Cause(PREEMPTED, f"preempted by the platform{when}; started again", "the platform preempted it; nothing to change")


def retry_hints(run_id: str, tasks: Sequence[TaskRecord], command_prefix: str) -> list[str]:
    """A line per task without a result (its cause and advice), then the ``retry`` command that
    relaunches them, with the most RAM any of them was advised; ``command_prefix`` is how the user
    runs the headless CLI (the CLI knows: the executable it was started as)."""
    ended = [t for t in tasks if t.state in L.RETRYABLE_STATES]
    if not ended:
        return []
    lines = [f"  {task_label(t.index)}: {t.message or t.state}" + (f"; {t.advice}" if t.advice else "") for t in ended]
    ram = advised_ram(ended)
    return [*lines, f"retry them with: {command_prefix} retry {run_id}" + (f" --ram {ram}" if ram else "")]


def advised_ram(tasks: Sequence[TaskRecord]) -> int | None:
    """The most RAM (GB) the causes of ``tasks`` advise retrying with; None when none advises RAM."""
    advised = [int(found.group(1)) for t in tasks if t.advice and (found := _RAM_ADVICE.search(t.advice))]
    return max(advised) if advised else None


def _failure(task: TaskRecord, summary: dict, events: list[dict], options: list[int], tail: tuple[str, ...], peak_gb):
    requested = task.spec.ram_gb
    peak = _peak_gb(summary) or peak_gb
    killed_by = summary.get("signal")
    if _said(events, "oomkilled"):  # a peak below the limit missed the allocation that went over it
        return _out_of_memory(peak if peak and peak >= NEAR_LIMIT * requested else None, requested, options, tail)
    if killed_by == signal.SIGKILL and peak and requested and peak >= NEAR_LIMIT * requested:
        return _out_of_memory(peak, requested, options, tail)
    if _said(events, "deadlineexceeded") or _said(events, "deadline"):
        return Cause(DEADLINE, "deadline: it ran past the session's time limit", "retry with more time", tail)
    if killed_by == signal.SIGTERM or summary.get("forwarded_signal") == signal.SIGTERM:
        return Cause(DELETED, "deleted: stopped (SIGTERM) before it finished", "retry it if that was not meant", tail)
    if killed_by:
        return Cause(FAILED, f"killed by signal {killed_by} ({_signal_name(killed_by)})", _log_advice(tail), tail)
    code = task.exit_code
    if code is None:
        return Cause(FAILED, task.message or "failed", _log_advice(tail), tail)
    error = _error_line(tail)
    text = f"exit {code}" + (f": {error}" if error else "")
    if summary.get("finder") == "sofia" and code in SOFIA_EXIT_CODES:
        return Cause(FAILED, text, _sofia_advice(code, peak, requested, options), tail)
    return Cause(FAILED, text, _log_advice(tail) if not error else None, tail)


def _out_of_memory(peak: float | None, requested: int, options: list[int], tail: tuple[str, ...]) -> Cause:
    if peak:
        text = f"out of memory: peak {peak:.1f} GiB of {requested} GiB requested"
    else:
        text = f"out of memory: killed at its {requested} GiB limit (OOMKilled)"
    return Cause(OOM, text, ram_advice(peak, requested, options), tail)


def offered_ram(context: dict | None) -> list[int]:
    """The RAM values (GB) a platform's ``/context`` offers; empty when it lists none."""
    options = _context_options(context, "memoryGB", "availableRAM")
    return sorted(int(o) for o in options if isinstance(o, (int, float))) if isinstance(options, list) else []


def ram_advice(peak: float | None, requested: int, options: Sequence[int]) -> str:
    """``retry with --ram N``: the peak with headroom (or twice the request, when the peak is unknown),
    rounded up to the smallest value the site offers; or why no offered value will do."""
    needed = max(peak * RAM_MARGIN if peak else requested * 2, requested + 1)
    offered = sorted(options)
    if not offered:
        return f"retry with --ram {math.ceil(needed)}"
    enough = [gb for gb in offered if gb >= needed]
    if enough:
        return f"retry with --ram {enough[0]}"
    if offered[-1] > requested:
        return f"retry with --ram {offered[-1]}, the most this site offers (it may not be enough), or split the input"
    return f"it needs more than the {offered[-1]} GiB this site offers: split the input into smaller regions"


def _sofia_advice(code: int, peak: float | None, requested: int, options: list[int]) -> str:
    meaning, action = SOFIA_EXIT_CODES[code]
    return f"{meaning}: {action or ram_advice(peak, requested, options)}"


def _said(events: list[dict], word: str) -> bool:
    return any(word in f"{event.get('reason', '')} {event.get('message', '')}".lower().replace(" ", "") for event in events)


def _peak_gb(summary: dict) -> float | None:
    rusage = summary.get("rusage_tree") or summary.get("rusage") or {}
    peak = rusage.get("max_rss_mib")
    return peak / MIB_PER_GB if peak else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _clean(line: str) -> str:
    return _ANSI.sub("", line).strip()


def _error_line(tail: Sequence[str]) -> str | None:
    """The finder's last ``ERROR:`` line (SoFiA-2 says why it stopped there), without colours."""
    errors = [_clean(line) for line in tail if _clean(line).startswith("ERROR")]
    return errors[-1] if errors else None


def _log_advice(tail: Sequence[str]) -> str | None:
    lines = [_clean(line) for line in tail if _clean(line)]
    return f"the log ends: {lines[-1]}" if lines else None
