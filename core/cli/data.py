"""The data-management commands of seed 004: verify, clean, keep and rerun a finished run.

``verify RUN_ID`` re-checks every checksum the run recorded and exits 1 listing mismatches.
``clean RUN_ID`` lists the run's products on storage with their sizes and a total (as ``du -hsc``
prints them), each marked keep or remove, and removes the temporary ones only once confirmed
(``--yes``; without a terminal and without ``--yes`` it refuses, exit 2) and only once every kept
product is proven intact (a mismatch: one line, exit 1, nothing removed). ``keep RUN_ID --to PATH``
copies the kept products, each verified, with a progress bar on a terminal (a line per copy
otherwise); run again after an interruption it finishes the job. ``rerun RUN_ID_OR_RUN_JSON`` runs
the same tasks again as a new run, refusing (exit 2) when a setting or an input changed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from srcnet_tui.core.cli.arguments import positive_int
from srcnet_tui.core.cli.output import notice, print_json, stderr, stdout
from srcnet_tui.core.cli.sessions import settings_from_args
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.runs.cleaning import clean_run, run_products
from srcnet_tui.core.runs.keeping import KEEP_PARALLEL, keep_run
from srcnet_tui.core.runs.ledger import Ledger, RunRecord
from srcnet_tui.core.runs.products import REMOVE, Product, human_size, totals
from srcnet_tui.core.runs.storage import Storage, open_storage
from srcnet_tui.core.runs.verifying import verify_run
from srcnet_tui.core.settings import Settings


def recorded_run(settings: Settings, run_id: str) -> RunRecord:
    """The run from the ledger, refused (one line) when it ran on another backend than this command's."""
    with Ledger(settings.state_dir) as ledger:
        run = ledger.run(run_id)
    if run.backend and run.backend != settings.backend:
        raise UsageError(f"run {run_id} ran on the {run.backend} backend; use --backend {run.backend}")
    return run


def _opened(args) -> tuple[Storage, RunRecord]:
    settings = settings_from_args(args)
    return open_storage(settings), recorded_run(settings, args.run_id)


def cmd_verify(args) -> int:
    storage, run = _opened(args)
    result = verify_run(storage, run)
    if args.json:
        print_json({"run_id": run.id, **result.to_dict()})
    else:
        for line in result.mismatches:
            stdout.print(f"MISMATCH {line}", markup=False, highlight=False)
    notice(f"verify {run.id}: {result.checked} checksums checked, {len(result.mismatches)} mismatched")
    return 1 if result.mismatches else 0


def cmd_clean(args) -> int:
    storage, run = _opened(args)
    products = run_products(storage, run)
    removable = [p for p in products if p.action == REMOVE]
    if not args.json:
        print_products(products)
    removed: list[dict] = []
    if not removable:
        notice(f"clean {run.id}: nothing to remove")
    elif not args.dry_run and _confirmed(args, run, removable):
        removed = clean_run(storage, run, products)
        notice(f"clean {run.id}: removed {len(removed)} file(s), {human_size(sum(e['size'] for e in removed))}")
    if args.json:
        print_json(_clean_json(run, storage, products, removed, args.dry_run))
    return 0


def print_products(products: list[Product]) -> None:
    """One line per product (size as ``du -h``, keep/remove, path, why), then the totals."""
    for product in products:
        line = f"{human_size(product.size)}\t{product.action}\t{product.path}\t({product.reason})"
        stdout.print(line, markup=False, highlight=False)
    summary = totals(products)
    stdout.print(f"{summary['total']['human']}\ttotal", markup=False, highlight=False)
    for action in ("keep", "remove"):
        stdout.print(f"{summary[action]['human']}\t{action}\t{summary[action]['count']} file(s)", markup=False, highlight=False)


def _confirmed(args, run: RunRecord, removable: list[Product]) -> bool:
    """--yes, or a 'y' typed at a terminal; without a terminal and without --yes: refused (exit 2)."""
    if args.yes:
        return True
    size = human_size(sum(p.size for p in removable))
    if not sys.stdin.isatty():
        raise UsageError(
            f"clean {run.id}: {len(removable)} file(s) ({size}) to remove; not a terminal, so pass --yes to remove them"
        )
    sys.stderr.write(f"Remove {len(removable)} file(s), {size}, of run {run.id}? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    notice(f"clean {run.id}: nothing removed")
    return False


def _clean_json(run: RunRecord, storage: Storage, products: list[Product], removed: list[dict], dry_run: bool) -> dict:
    return {
        "run_id": run.id,
        "storage": storage.name,
        "dry_run": dry_run,
        "products": [p.to_dict() for p in products],
        "totals": totals(products),
        "removed": removed,
    }


def cmd_keep(args) -> int:
    storage, run = _opened(args)
    with _copy_progress(run) as progress:
        kept = keep_run(storage, run, args.to, move=args.move, parallel=args.parallel, progress=progress)
    if args.json:
        print_json({"run_id": run.id, "kept": kept})
    verb = "moved" if args.move else "copied"
    notice(f"keep {run.id}: {len(kept)} product(s) {verb} and verified, {human_size(sum(e['size'] for e in kept))}")
    return 0


@contextmanager
def _copy_progress(run: RunRecord) -> Iterator:
    """A rich progress bar on a terminal; a line per verified copy otherwise."""
    if not sys.stderr.isatty():

        def line(product: Product, done: int, total: int) -> None:
            notice(f"kept {done}/{total}: {product.path} ({human_size(product.size)})")

        yield line
        return
    columns = (TextColumn(f"keep {run.id}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[name]}"))
    with Progress(*columns, TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("keep", total=None, name="")

        def advance(product: Product, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, name=product.relative)

        yield advance


def cmd_rerun(args) -> int:
    # Imported here: a run loads pandas and the platform client, which clean, keep and verify never need.
    from srcnet_tui.core.cli.runs import CliReporter, finish_run, print_plan
    from srcnet_tui.core.runs.orchestrate import start_run
    from srcnet_tui.core.runs.preflight import dry_run_plan
    from srcnet_tui.core.runs.rerunning import prepare_rerun, recorded_manifest

    settings = settings_from_args(args)
    rerun = prepare_rerun(open_storage(settings), recorded_manifest(settings.state_dir, args.run_id))
    notice(f"rerun {rerun.run_id}: its settings and inputs are as recorded")
    if args.dry_run:
        plan = asyncio.run(dry_run_plan(settings, rerun.config))
        print_json(plan.to_dict()) if args.json else print_plan(plan)
        return 0
    reporter = CliReporter()
    return finish_run(args, reporter, start_run(settings, rerun.config, reporter=reporter))


def _command(subparsers, name: str, help: str, handler, metavar: str = "RUN_ID"):
    parser = subparsers.add_parser(name, help=help, description=help)
    parser.add_argument("run_id", metavar=metavar)
    parser.set_defaults(handler=handler)
    return parser


def register(subparsers) -> None:
    parser = _command(subparsers, "clean", "list a finished run's products with sizes; remove the temporary ones", cmd_clean)
    parser.add_argument("--dry-run", action="store_true", help="list and classify; remove nothing")
    parser.add_argument("--yes", action="store_true", help="remove without asking (for scripts)")
    parser.add_argument("--json", action="store_true")
    parser = _command(subparsers, "keep", "copy a finished run's kept products to long-term storage, verified", cmd_keep)
    parser.add_argument("--to", required=True, metavar="PATH", help="a local folder or an /arc path; the run goes in PATH/RUN_ID")
    parser.add_argument("--move", action="store_true", help="remove each source once its copy is verified and recorded")
    parser.add_argument(
        "--parallel", type=positive_int, default=KEEP_PARALLEL, metavar="N", help=f"copies at once (default {KEEP_PARALLEL})"
    )
    parser.add_argument("--json", action="store_true")
    parser = _command(
        subparsers, "rerun", "run a recorded run's tasks again, if its inputs are unchanged", cmd_rerun, "RUN_ID_OR_RUN_JSON"
    )
    parser.add_argument("--dry-run", action="store_true", help="check and print the plan; launch nothing")
    parser.add_argument("--json", action="store_true")
    parser = _command(subparsers, "verify", "re-check every checksum a run recorded; exit 1 listing mismatches", cmd_verify)
    parser.add_argument("--json", action="store_true")
