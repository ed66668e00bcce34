"""Accounting like seff and sacct: what each task of each run cost, and how well it used what it asked for.

Skaha forgets a session an hour after it ends; the run ledger and the profile logs that came back
do not. From them, per task attempt: its state with the cause, queue wait (start − submit), wall,
CPU efficiency (CPU-hours used ÷ cores × wall), memory efficiency (peak RSS ÷ requested RAM), time
efficiency (wall ÷ the session's deadline), used and allocated core-hours. Runs, days and sites add
these up, and a run's tasks spread over efficiency histograms as seff-array draws them. Every
attempt counts, a preempted or retried one too: the platform gave it its cores.

Run tasks always ask for fixed cores and RAM, so their request is their limit. A session launched
without them is flexible: it requests a little (1 core, 4 GiB headless) and may grow to the site's
``defaultLimit``; :func:`session_allocation` gives both, and its memory use against the limit.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.models import Session
from srcnet_tui.core.runs.ledger import AttemptRecord, Ledger, RunRecord, ledger_path
from srcnet_tui.core.runs.plan import task_label
from srcnet_tui.core.skaha_rules import CHART_DEFAULT_LIMIT, FLEX_REQUEST, HEADLESS_DEADLINE_S

MIB_PER_GIB = 1024.0
GROUPINGS = ("run", "day", "site")
HISTOGRAM_BINS = tuple(range(0, 100, 10))
"""Lower edges (percent) of the histogram bins: 0-10 % ... 90-100 %, then one bin for above 100 %."""
FIXED_TASKS_NOTE = (
    "run tasks are never flexible: each asks for fixed cores and RAM (request = limit), "
    "so memory efficiency is peak RSS / requested RAM"
)
"""What ``usage`` and ``aggregate`` say about requests and limits (flexible sessions: ``sessions``)."""
_CONTEXT_KEYS = {"cores": "cores", "ram": "memoryGB"}
"""The ``/context`` entry of each resource (``memoryGB`` is in GiB, despite its name)."""
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SPAN_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class TaskAccount:
    """One attempt of one task, as seff would report it (None: not known, e.g. no profile log came back)."""

    run_id: str
    site: str | None
    task: str
    attempt: int
    state: str
    cause: str | None
    submitted: float | None
    started: float | None
    finished: float | None
    cores: int | None
    ram_gib: int | None
    wall_s: float | None
    cpu_hours: float | None
    rss_peak_mib: float | None
    deadline_s: float = HEADLESS_DEADLINE_S
    wasted: bool = False
    """A later attempt replaced it: it used its cores, and bought no result."""

    @property
    def queue_wait_s(self) -> float | None:
        return self.started - self.submitted if self.started and self.submitted else None

    @property
    def alloc_core_hours(self) -> float | None:
        return self.cores * self.wall_s / 3600 if self.cores and self.wall_s is not None else None

    @property
    def cpu_efficiency(self) -> float | None:
        return _ratio(self.cpu_hours, self.alloc_core_hours)

    @property
    def mem_efficiency(self) -> float | None:
        peak_gib = self.rss_peak_mib / MIB_PER_GIB if self.rss_peak_mib is not None else None
        return _ratio(peak_gib, self.ram_gib)

    @property
    def time_efficiency(self) -> float | None:
        return _ratio(self.wall_s, self.deadline_s)

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "site": self.site,
            "task": self.task,
            "attempt": self.attempt,
            "state": self.state,
            "cause": self.cause,
            "wasted": self.wasted,
            "submitted": iso_utc(self.submitted),
            "started": iso_utc(self.started),
            "finished": iso_utc(self.finished),
            "queue_wait_s": _round(self.queue_wait_s, 3),
            "wall_s": _round(self.wall_s, 3),
            "cores": self.cores,
            "ram_gib": self.ram_gib,
            "rss_peak_mib": _round(self.rss_peak_mib, 3),
            "cpu_hours": _round(self.cpu_hours, 9),
            "alloc_core_hours": _round(self.alloc_core_hours, 9),
            "cpu_efficiency": _round(self.cpu_efficiency, 4),
            "mem_efficiency": _round(self.mem_efficiency, 4),
            "time_efficiency": _round(self.time_efficiency, 6),
        }


def _ratio(part: float | None, whole: float | None) -> float | None:
    return part / whole if part is not None and whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def iso_utc(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


# --- a session's request and limit --------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """One resource of a session: what it requested and what it may grow to (equal unless flexible)."""

    request: float | None
    limit: float | None
    flexible: bool

    def to_json(self) -> dict:
        return {"request": self.request, "limit": self.limit, "flexible": self.flexible}


@dataclass(frozen=True)
class SessionAllocation:
    """A session's cores and RAM (GiB) as requested and as limited, and its RAM in use against the limit."""

    cores: Allocation
    ram_gib: Allocation
    ram_in_use_gib: float | None

    @property
    def flexible(self) -> bool:
        return self.cores.flexible or self.ram_gib.flexible

    @property
    def mem_use_of_limit(self) -> float | None:
        """RAM in use ÷ the RAM limit: for a flexible session the limit, not the small request, is what it may use."""
        return _ratio(self.ram_in_use_gib, self.ram_gib.limit)

    def to_json(self) -> dict:
        return {
            "cores": self.cores.to_json(),
            "ramGiB": self.ram_gib.to_json(),
            "ramInUseOfLimit": _round(self.mem_use_of_limit, 4),
        }

    def describe(self) -> str:
        """One line: ``flexible: requests 1 core / 4 GiB, limit 8 cores / 32 GiB; RAM in use 2% of the limit``."""
        share = self.mem_use_of_limit
        use = "RAM in use not known" if share is None else f"RAM in use {share * 100:.0f}% of the limit"
        return (
            f"flexible: requests {_amount(self.cores.request, 'core')} / {_amount(self.ram_gib.request, 'GiB')}, "
            f"limit {_amount(self.cores.limit, 'core')} / {_amount(self.ram_gib.limit, 'GiB')}; {use}"
        )


def session_allocation(session: Session, context: dict) -> SessionAllocation:
    """A session's request and limit: a given ``cores``/``ram`` is both; an omitted one (flexible, each
    independently) requests :data:`FLEX_REQUEST` (a headless session's; Skaha publishes no other type's) and is
    limited by the site's ``/context`` ``defaultLimit``."""
    return SessionAllocation(
        _allocation(session.requested_cores, "cores", context),
        _allocation(session.requested_ram_gib, "ram", context),
        session.ram_in_use_gib,
    )


def _allocation(requested: float | None, kind: str, context: dict) -> Allocation:
    if requested is not None:
        return Allocation(requested, requested, flexible=False)
    entry = context.get(_CONTEXT_KEYS[kind])
    limit = entry.get("defaultLimit") if isinstance(entry, dict) else None
    return Allocation(FLEX_REQUEST[kind], float(limit) if isinstance(limit, int | float) else CHART_DEFAULT_LIMIT[kind], True)


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "?"
    number = f"{value:g}"
    return f"{number} {unit}{'s' if unit == 'core' and value != 1 else ''}"


# --- from the ledger ----------------------------------------------------------------------


def parse_since(text: str, now: float | None = None) -> float:
    """The epoch ``--since`` names: a span back from now (``30d``, ``12h``, ``2w``, ``90m``) or a UTC date ``YYYY-MM-DD``."""
    now = time.time() if now is None else now
    span = _SPAN.match(text)
    if span:
        return now - float(span.group(1)) * _SPAN_S[span.group(2)]
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise UsageError(f"--since: expected a span such as 30d, 12h, 2w or a date YYYY-MM-DD, not {text!r}") from None


def open_history(state_dir: Path) -> Ledger | None:
    """The ledger of ``state_dir`` if there is one (None: no run was ever made there; nothing is created)."""
    return Ledger(state_dir) if ledger_path(state_dir).exists() else None


def history(ledger: Ledger, since: float | None = None, site: str | None = None) -> list[tuple[RunRecord, list[TaskAccount]]]:
    """Every run created at or after ``since`` (at ``site``, if given), newest first, with its tasks' accounts."""
    runs = [r for r in ledger.runs() if (since is None or r.created >= since) and (site is None or r.where == site)]
    return [(run, run_accounts(run, ledger.attempts(run.id))) for run in runs]


def run_accounts(run: RunRecord, attempts: Sequence[AttemptRecord]) -> list[TaskAccount]:
    """The accounts of a run's attempts; usage the ledger lacks is read from the profile logs that came back."""
    logs = {(a.index, a.attempt): _log_path(run, a) for a in attempts if a.usage is None}
    measured = _usage_of_logs([path for path in logs.values() if path is not None])
    return [_account(run, a, a.usage or measured.get(str(logs.get((a.index, a.attempt))), {})) for a in attempts]


def _log_path(run: RunRecord, attempt: AttemptRecord) -> Path | None:
    if not run.local_dir or not attempt.profile_log:
        return None
    path = Path(run.local_dir) / attempt.profile_log
    return path if path.is_file() else None


def _usage_of_logs(paths: list[Path]) -> dict[str, dict]:
    """``aggregate``'s row of each profile log, by path (logs that cannot be read are left out)."""
    from srcnet_tui.core import usage  # pandas: only when the ledger lacks a log's numbers

    if not paths:
        return {}
    loaded = usage.load(paths, columns=usage.AGGREGATE_COLUMNS)
    return {row["source"]: row for row in usage.aggregate(loaded.runs)["runs"]}


def _account(run: RunRecord, attempt: AttemptRecord, measured: dict) -> TaskAccount:
    wall = measured.get("wall_s")
    if wall is None and attempt.started_at and attempt.finished_at and attempt.finished_at >= attempt.started_at:
        wall = attempt.finished_at - attempt.started_at
    return TaskAccount(
        run_id=run.id,
        site=run.where,
        task=task_label(attempt.index),
        attempt=attempt.attempt,
        state=attempt.cause or attempt.state,
        cause=attempt.message,
        submitted=attempt.launched_at,
        started=attempt.started_at,
        finished=attempt.finished_at,
        cores=attempt.cores,
        ram_gib=attempt.ram_gb,
        wall_s=wall,
        cpu_hours=measured.get("cpu_hours"),
        rss_peak_mib=peak_rss_mib(measured),
        wasted=attempt.wasted,
    )


def peak_rss_mib(row: dict) -> float | None:
    """The best lower bound of a task's peak memory in ``aggregate``'s row of its log: the sampled peak
    of the whole tree, or the kernel's exact peak of its largest process when that is higher (a spike
    between two samples)."""
    known = [row[key] for key in ("rss_peak_mib", "rusage_max_rss_mib") if row.get(key) is not None]
    return max(known) if known else None


def accounts_by_log(ledger: Ledger) -> dict[str, TaskAccount]:
    """Every attempt the ledger knows, by the real path of its profile log in the run's results folder."""
    found = {}
    for run in ledger.runs():
        for attempt in ledger.attempts(run.id):
            if run.local_dir and attempt.profile_log:
                found[os.path.realpath(Path(run.local_dir) / attempt.profile_log)] = _account(run, attempt, {})
    return found


def with_accounts(report: dict, accounts: dict[str, TaskAccount]) -> dict:
    """``aggregate``'s report with each run the ledger knows given its task's state, cause, request and efficiencies
    (and, when it knew one, the note that those requests are fixed)."""
    for row in report["runs"]:
        account = accounts.get(os.path.realpath(row["source"]))
        if account is None:
            continue
        known = replace(account, wall_s=row["wall_s"], cpu_hours=row["cpu_hours"], rss_peak_mib=peak_rss_mib(row))
        row.update({key: value for key, value in known.to_json().items() if key in LEDGER_COLUMNS})
        report["requests_note"] = FIXED_TASKS_NOTE
    return report


LEDGER_COLUMNS = (
    "run_id", "task", "attempt", "state", "cause", "wasted", "queue_wait_s", "cores", "ram_gib",
    "alloc_core_hours", "cpu_efficiency", "mem_efficiency", "time_efficiency",
)  # fmt: skip
"""What ``aggregate`` adds to a run's row when the ledger knows its task."""


# --- summing up ---------------------------------------------------------------------------


def group_key(by: str) -> Callable[[RunRecord, TaskAccount], str]:
    """How ``--by`` groups tasks: their run, the UTC day they were submitted (else their run's), their site."""
    if by == "run":
        return lambda run, account: run.id
    if by == "day":
        return lambda run, account: time.strftime("%Y-%m-%d", time.gmtime(account.submitted or run.created))
    return lambda run, account: run.where or "-"


def summarise(history_rows: Iterable[tuple[RunRecord, list[TaskAccount]]], by: str) -> list[dict]:
    """One row per group (in the order first met: newest first), with its totals."""
    groups: dict[str, list[TaskAccount]] = {}
    key = group_key(by)
    for run, accounts in history_rows:
        for account in accounts:
            groups.setdefault(key(run, account), []).append(account)
    return [{by: name, **totals(accounts)} for name, accounts in groups.items()]


def totals(accounts: Sequence[TaskAccount]) -> dict:
    """Sums and means over attempts: core-hours used and allocated, their ratio, mean memory
    efficiency, queue waits; ``tasks`` counts each task once, ``attempts`` every attempt."""
    used = [a.cpu_hours for a in accounts if a.cpu_hours is not None and a.alloc_core_hours]
    alloc = [a.alloc_core_hours for a in accounts if a.cpu_hours is not None and a.alloc_core_hours]
    memory = [a.mem_efficiency for a in accounts if a.mem_efficiency is not None]
    waits = [a.queue_wait_s for a in accounts if a.queue_wait_s is not None]
    states: dict[str, int] = {}
    for account in _final_attempts(accounts):
        states[account.state] = states.get(account.state, 0) + 1
    return {
        "tasks": len({(a.run_id, a.task) for a in accounts}),
        "attempts": len(accounts),
        "states": states,
        "wall_s": round(sum(a.wall_s or 0.0 for a in accounts), 3),
        "cpu_hours": round(sum(a.cpu_hours or 0.0 for a in accounts), 9),
        "alloc_core_hours": round(sum(a.alloc_core_hours or 0.0 for a in accounts), 9),
        "cpu_efficiency": _round(_ratio(sum(used), sum(alloc)), 4),
        "mem_efficiency": _round(sum(memory) / len(memory), 4) if memory else None,
        "queue_wait_mean_s": _round(sum(waits) / len(waits), 3) if waits else None,
        "queue_wait_max_s": _round(max(waits), 3) if waits else None,
    }


def _final_attempts(accounts: Sequence[TaskAccount]) -> list[TaskAccount]:
    latest: dict[tuple[str, str], TaskAccount] = {}
    for account in accounts:
        key = (account.run_id, account.task)
        if key not in latest or account.attempt > latest[key].attempt:
            latest[key] = account
    return list(latest.values())


def histogram(values: Iterable[float | None]) -> list[int]:
    """Counts of efficiencies (fractions) in the bins of :data:`HISTOGRAM_BINS` plus one for above 100 %."""
    counts = [0] * (len(HISTOGRAM_BINS) + 1)
    for value in values:
        if value is not None and math.isfinite(value):
            counts[len(HISTOGRAM_BINS) if value > 1 else min(int(value * 10), len(HISTOGRAM_BINS) - 1)] += 1
    return counts


def histogram_lines(title: str, counts: Sequence[int], width: int = 40) -> list[str]:
    """seff-array's text histogram: one line per bin, a bar scaled to the largest count, the count."""
    labels = [f"{f'{low}-{low + 10}%':>7}" for low in HISTOGRAM_BINS] + [f"{'>100%':>7}"]
    top = max(counts, default=0) or 1
    lines = [title]
    for label, count in zip(labels, counts):
        bar = "█" * math.ceil(count / top * width) if count else ""
        lines.append(f"  {label} {bar} {count}" if count else f"  {label} {count}")
    return lines
