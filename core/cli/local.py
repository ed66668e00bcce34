"""``serve-local``: run the local Skaha v1 server in the foreground (the CLI and TUI start it as a daemon)."""

from __future__ import annotations

import argparse
from pathlib import Path

from srcnet_tui.core.cli.output import notice
from srcnet_tui.core.errors import UsageError
from srcnet_tui.core.local import daemon
from srcnet_tui.core.local.faults import FaultConfig
from srcnet_tui.core.local.service import ServeOptions, quiet_logging, serve
from srcnet_tui.core.settings import resolve
from srcnet_tui.core.skaha_rules import FINISHED_LISTED_S, HEADLESS_DEADLINE_S


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, not {text}")
    return value


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def register(subparsers) -> None:
    p = subparsers.add_parser("serve-local", help="serve the Skaha v1 API from this machine (sessions are local processes)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=_port, default=0, help="port (default 0: pick a free one; see <state>/local/server.json)")
    p.add_argument(
        "--token",
        dest="serve_token",
        help="bearer token clients must send (default: generated once and kept 0600 in <state>/local/token; a token given here is visible in ps)",
    )
    p.add_argument(
        "--ttl",
        type=float,
        default=FINISHED_LISTED_S,
        help=f"seconds a finished session stays listed (default {FINISHED_LISTED_S:g})",
    )
    p.add_argument(
        "--max-runtime",
        type=_positive(float),
        default=HEADLESS_DEADLINE_S,
        help="seconds before a running session is ended as Failed (default 14 days)",
    )
    p.add_argument("--cores", type=_positive(int), help="cores sessions may hold at once (default: this machine's)")
    p.add_argument("--ram-gb", type=_positive(float), help="GiB of memory sessions may hold at once (default: this machine's)")
    p.add_argument(
        "--no-preempt",
        dest="preempt",
        action="store_false",
        help="never evict running headless sessions to admit interactive ones (default: preempt, as CANFAR's Kueue does)",
    )
    p.add_argument("--fault-latency-ms", type=float, default=0.0, help="delay every API request (tests/benchmarks)")
    p.add_argument("--fault-503-rate", type=_rate, default=0.0, help="fraction of API requests answered 503 before acting")
    p.add_argument("--fault-drop-rate", type=_rate, default=0.0, help="fraction of API connections dropped after acting")
    p.add_argument("--fault-seed", type=int, help="seed for the fault dice (reproducible runs)")
    p.add_argument(
        "--fault-preempt",
        action="store_true",
        help="let clients force a preemption: POST session/ID with action=preempt (tests)",
    )
    p.add_argument("--stop", action="store_true", help="stop the server running for the state folder (its sessions keep running)")
    p.set_defaults(handler=run_serve_local)


def run_serve_local(args) -> int:
    if args.workload:
        raise UsageError("serve-local: takes no command after '--'")
    if args.ttl < 0:
        raise UsageError("serve-local: --ttl must not be negative")
    settings = resolve(backend="local", state_dir=args.state_dir)
    if args.stop:
        stopped = daemon.stop(Path(settings.state_dir))
        notice(f"serve-local: {'stopped the server' if stopped else 'no server was running'} for {settings.state_dir}")
        return 0
    quiet_logging()
    options = ServeOptions(
        state_dir=Path(settings.state_dir),
        host=args.host,
        port=args.port,
        token=args.serve_token,  # the global --token is a CANFAR credential, never this server's
        ttl_s=args.ttl,
        max_runtime_s=args.max_runtime,
        cores=args.cores,
        ram_gb=args.ram_gb,
        preempt=args.preempt,
        faults=FaultConfig(
            args.fault_latency_ms,
            args.fault_503_rate,
            args.fault_drop_rate,
            args.fault_seed,
            preempt_on_request=args.fault_preempt,
        ),
    )
    return serve(options)
