"""``fichas loadtest``: the PC workload with k6 — steady (``pcs``), with an instance killed
(``chaos``), with an attacker beside the PCs (``hostile``), or stepped until the SLO breaks
(``capacity``). See loadtest/scenarios.py."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import datetime
from pathlib import Path


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser(
        "loadtest",
        help="load-test a cluster with k6 (its own on free ports, or --target)",
        description="Virtual shop-floor PCs run operators' sessions against the API; prints a "
        "table per endpoint, writes summary.json and chart.png, exits 1 if the SLO is missed.",
    )
    parser.add_argument(
        "--scenario", choices=("pcs", "chaos", "hostile", "capacity"), default="pcs"
    )
    parser.add_argument("--pcs", type=int, default=25, help="virtual PCs (default 25)")
    parser.add_argument(
        "--duration", help="run length (default 60s; capacity: per step, default 30s)"
    )
    parser.add_argument("--think", default="0s", help="pause after each request (default 0s)")
    parser.add_argument(
        "--steps", help="capacity: comma-separated PC counts (default 15,25,50,…,2000)"
    )
    parser.add_argument(
        "--target", help="URL of a running cluster (default: start one on demo data)"
    )
    parser.add_argument(
        "--admin-key-file",
        type=Path,
        help="with --target: the admin key that makes the run's key (default <data dir>/admin.key)",
    )
    parser.add_argument("--instances", type=int, default=3, help="own cluster's instances")
    parser.add_argument(
        "--redis",
        action="store_true",
        help="own cluster: with a redis-server of its own (chaos then kills and restarts it)",
    )
    parser.add_argument(
        "--database-url",
        help="own cluster: on this database (PostgreSQL; migrated, and loaded with demo data "
        "unless it holds them; the run adds pedidos) instead of a fresh SQLite file",
    )
    parser.add_argument(
        "--slo-success", type=float, help="%% answered right (default 99.9; chaos, hostile 100)"
    )
    parser.add_argument("--slo-p95", default="100ms", help="p95 latency bound (default 100ms)")
    parser.add_argument("--slo-p99", default="250ms", help="p99 latency bound (default 250ms)")
    parser.add_argument(
        "--results", type=Path, help="folder (default results/loadtest/<scenario>-<time>)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fichas.settings import load_settings

    try:
        from loadtest import k6, scenarios
        from loadtest.target import TargetError
    except ModuleNotFoundError as exc:  # a production install: without the load-test extra
        print(
            f"fichas: loadtest needs {exc.name}, which a plain install does not carry: "
            "pip install 'fichas[loadtest]' (a checkout's `uv run` has it)",
            file=sys.stderr,
        )
        return 2

    try:
        plan = scenarios.Plan(
            scenario=args.scenario,
            pcs=_positive(args.pcs, "--pcs"),
            seconds=k6.seconds(args.duration or ("30s" if args.scenario == "capacity" else "60s")),
            think=k6.seconds(args.think),
            slo=k6.Slo(
                success=args.slo_success
                or (100.0 if args.scenario in ("chaos", "hostile") else 99.9),
                p95_ms=k6.seconds(args.slo_p95) * 1000,
                p99_ms=k6.seconds(args.slo_p99) * 1000,
            ),
            results=args.results
            or Path("results", "loadtest", f"{args.scenario}-{datetime.now():%Y%m%d-%H%M%S}"),
            steps=tuple(_positive(int(n), "--steps") for n in args.steps.split(","))
            if args.steps
            else scenarios.DEFAULT_STEPS,
            target_url=args.target,
            admin_key=_admin_key(args, load_settings().data_dir) if args.target else None,
            instances=_positive(args.instances, "--instances"),
            redis=args.redis,
            database_url=args.database_url,
        )
    except (ValueError, OSError) as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 2
    if args.target is None and plan.scenario == "chaos" and plan.instances < 2:
        print("fichas: chaos kills an instance; it needs --instances 2 or more", file=sys.stderr)
        return 2
    # SIGTERM ends the run like Ctrl+C does: through the cleanup that stops k6 and the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return scenarios.run(plan)
    except (TargetError, FileNotFoundError) as exc:  # no cluster, no k6
        print(f"fichas: {exc}", file=sys.stderr)
        return 2


def _positive(value: int, option: str) -> int:
    if value < 1:
        raise ValueError(f"{option} must be positive")
    return value


def _admin_key(args: argparse.Namespace, data_dir: Path) -> str:
    path = args.admin_key_file or data_dir / "admin.key"
    return str(path.read_text().strip())
