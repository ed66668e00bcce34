"""A run's products on storage, each classified *keep* or *remove*, with sizes as ``du -hsc`` shows them.

Seed 004's practice: write the final products (catalogues, parameters, logs, versions) to long-term
storage and remove the temporary ones, shown first with their sizes and a total. Which is which is
a policy per workload kind (SoFiA-2: keep catalogues, parameter files, logs, summaries, ``run.json``
and moment maps; remove filtered and noise cubes, masks and cubelets), which the run's config
overrides with ``keep = GLOB, ...`` and ``remove = GLOB, ...`` (keep wins when both match). A file
no rule names is kept: nothing is removed by accident. Globs match the path inside the run's
folder (``task-001/x_mask.fits``) or the file's name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any

from srcnet_tui.core.runs.spec import RunPlan
from srcnet_tui.core.runs.storage import Storage, StoredFile, join

KEEP, REMOVE = "keep", "remove"
UNITS = ("", "K", "M", "G", "T", "P", "E")


@dataclass(frozen=True)
class Rule:
    pattern: str
    action: str
    reason: str

    def matches(self, relative: str) -> bool:
        return fnmatch(relative, self.pattern) or fnmatch(relative.rsplit("/", 1)[-1], self.pattern)


COMMON_RULES = (
    Rule("run.json", KEEP, "manifest"),
    Rule("checksums.json", KEEP, "checksums"),
    Rule("*.par", KEEP, "parameter file"),
    Rule("*.log", KEEP, "log"),
    Rule("*.summary.json", KEEP, "summary"),
    Rule("*_cat.*", KEEP, "catalogue"),
    Rule("*.txt", KEEP, "log"),
)
SOFIA_RULES = (
    Rule("*_cubelets/*", REMOVE, "cubelet"),
    *(Rule(f"*_{name}.fits", KEEP, "moment map") for name in ("mom0", "mom1", "mom2", "chan")),
    Rule("*_rel_cat_*.xml", KEEP, "catalogue"),
    Rule("*_filtered.fits", REMOVE, "filtered cube"),
    Rule("*_noise.fits", REMOVE, "noise cube"),
    *(Rule(f"*_{name}.fits", REMOVE, "mask") for name in ("mask", "mask-raw", "mask-2d")),
    Rule("*.eps", KEEP, "plot"),
)
BDSF_RULES = (
    Rule("*.srl", KEEP, "catalogue"),
    *(Rule(f"*_{name}*.fits", REMOVE, "temporary image") for name in ("rms", "resid", "model", "mean", "ch0")),
)
KIND_RULES = {"sofia": SOFIA_RULES, "bdsf": BDSF_RULES}
UNMATCHED = "no rule names it (kept to be safe)"


@dataclass(frozen=True)
class Policy:
    """The rules in the order they are tried: the config's keep globs, its remove globs, the kind's
    (a folder's rule, cubelets, before those of the files in it), those of every kind."""

    rules: tuple[Rule, ...]

    @classmethod
    def for_run(cls, plan: RunPlan) -> Policy:
        settings = plan.config.get("settings", {})
        kind = str(settings.get("kind") or settings.get("finder") or "")
        keep = tuple(Rule(glob, KEEP, "config keep") for glob in globs(settings.get("keep")))
        remove = tuple(Rule(glob, REMOVE, "config remove") for glob in globs(settings.get("remove")))
        return cls(keep + remove + KIND_RULES.get(kind, ()) + _profile_log_rules(settings) + COMMON_RULES)

    def classify(self, relative: str) -> tuple[str, str]:
        """(action, reason) for a file at ``relative`` inside the run's folder."""
        for rule in self.rules:
            if rule.matches(relative):
                return rule.action, rule.reason
        return KEEP, UNMATCHED


def _profile_log_rules(settings: dict[str, Any]) -> tuple[Rule, ...]:
    """The recorder's logs, whatever the config named them (``profile.csv`` is numbered ``profile_003.csv``)."""
    written = str(settings.get("profile_log") or "")
    if not written:
        return ()
    stem, dot, suffix = written.rsplit("/", 1)[-1].rpartition(".")
    return (Rule(f"{stem}*.{suffix}" if dot else f"{suffix}*", KEEP, "profile log"),)


def globs(value: Any) -> list[str]:
    """The globs of a ``keep`` / ``remove`` setting, written ``a, b`` or one a line (or already a list)."""
    if not value or value == "-":
        return []
    items: Iterable[Any] = value if isinstance(value, (list, tuple)) else str(value).replace("\n", ",").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


@dataclass(frozen=True)
class Product:
    """One file in the run's folder on storage and what the policy does with it."""

    path: str  # on storage
    relative: str  # inside the run's folder
    size: int
    action: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "relative": self.relative,
            "size": self.size,
            "human": human_size(self.size),
            "action": self.action,
            "reason": self.reason,
        }


def classify(remote_dir: str, files: list[StoredFile], policy: Policy) -> list[Product]:
    products = []
    for found in files:
        if found.relative.rsplit("/", 1)[-1].startswith("."):
            continue  # a transfer in progress or cut short, not a product
        action, reason = policy.classify(found.relative)
        products.append(Product(join(remote_dir, found.relative), found.relative, found.size, action, reason))
    return products


def list_products(storage: Storage, plan: RunPlan) -> list[Product]:
    """Every file in the run's folder on storage, classified by the run's policy."""
    return classify(plan.output_dir, storage.walk(plan.output_dir), Policy.for_run(plan))


def totals(products: list[Product]) -> dict[str, dict[str, Any]]:
    """Count and bytes of the products kept, removed and in all (``human`` as ``du -h`` shows it)."""
    out = {}
    for name, chosen in ((KEEP, KEEP), (REMOVE, REMOVE), ("total", None)):
        picked = [p for p in products if chosen is None or p.action == chosen]
        size = sum(p.size for p in picked)
        out[name] = {"count": len(picked), "bytes": size, "human": human_size(size)}
    return out


def human_size(size: int) -> str:
    """A size as GNU ``du -h`` prints it: powers of 1024, rounded up, one decimal below 10."""
    if size < 1024:
        return str(size)
    exponent = min(int(math.log(size, 1024)), len(UNITS) - 1)
    while exponent > 1 and size < 1024**exponent:  # log() may overshoot by one at exact powers
        exponent -= 1
    while True:
        unit = 1024**exponent
        tenths = -(-size * 10 // unit)
        if tenths < 100:
            return f"{tenths // 10}.{tenths % 10}{UNITS[exponent]}"
        whole = -(-size // unit)
        if whole < 1024 or exponent == len(UNITS) - 1:
            return f"{whole}{UNITS[exponent]}"
        exponent += 1
