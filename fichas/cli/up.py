"""``fichas up``: the whole cluster — migrations, N API instances, Caddy in front, supervised."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fichas.settings import Settings
    from proxy.caddy import Tls
    from proxy.monitoring import Monitoring

DEFAULT_LISTEN = "0.0.0.0:8080"


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("up", help="run the cluster: API instances behind Caddy")
    parser.add_argument("--instances", type=int, default=3, help="API instances (default 3)")
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"public host:port (default {DEFAULT_LISTEN})"
    )
    parser.add_argument(
        "--tls", action="store_true", help="HTTPS with a certificate from Caddy's internal CA"
    )
    parser.add_argument("--tls-cert", type=Path, help="HTTPS with your own certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the private key (PEM) of --tls-cert")
    parser.add_argument(
        "--new-database",
        action="store_true",
        help="start on an empty database even though a replica or backups of a lost one exist",
    )
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also run Prometheus and Alertmanager (Debian's packages) on loopback",
    )
    for name, usual in (("prometheus", 9090), ("alertmanager", 9093)):
        parser.add_argument(
            f"--{name}-listen",
            metavar="HOST:PORT",
            help=f"with --observability: where {name.capitalize()} listens (default "
            f"127.0.0.1:{usual}, or a free port if that is taken)",
        )
    parser.set_defaults(run=run)


def _tls(args: argparse.Namespace) -> Tls:
    """What HTTPS to serve; ValueError saying why when the options make no sense."""
    from proxy.caddy import OwnCertificate

    if args.tls_cert is None and args.tls_key is None:
        return "internal" if args.tls else None
    if args.tls:
        raise ValueError("--tls (Caddy's internal CA) or --tls-cert/--tls-key, not both")
    if args.tls_cert is None or args.tls_key is None:
        raise ValueError("--tls-cert and --tls-key go together")
    for path in (args.tls_cert, args.tls_key):
        if not os.access(path, os.R_OK):
            raise ValueError(f"cannot read {path}")
    return OwnCertificate(args.tls_cert.resolve(), args.tls_key.resolve())


def run(args: argparse.Namespace) -> int:
    from backup.manifest import BackupError
    from backup.replication import retire_replica
    from backup.restore import lost_database
    from fichas import owner
    from fichas.settings import load_settings
    from proxy.caddy import public_url
    from proxy.cluster import listen_problem

    if not 1 <= args.instances <= 32:
        print("fichas: --instances must be between 1 and 32", file=sys.stderr)
        return 2
    try:
        tls = _tls(args)
    except ValueError as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 2
    settings = load_settings()
    url = public_url(args.listen, tls)
    try:
        ownership = owner.own(settings.cluster_dir, settings.data_dir, url)
    except owner.ClusterRunning as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 2
    try:
        chosen = {
            "--listen": args.listen,
            "--prometheus-listen": args.prometheus_listen,
            "--alertmanager-listen": args.alertmanager_listen,
        }
        for option, address in chosen.items():
            if address is not None and (problem := listen_problem(address, option)) is not None:
                print(f"fichas: {problem}", file=sys.stderr)
                return 2
        lost = lost_database(settings)
        if lost is not None and not args.new_database:
            print(f"fichas: refused: {lost}", file=sys.stderr)
            return 2
        if lost is not None:  # --new-database: an empty one, on purpose
            try:
                aside = retire_replica(settings)
            except BackupError as exc:
                print(f"fichas: refused: {exc}", file=sys.stderr)
                return 2
            if aside is not None:
                print(f"kept the replica of the replaced database aside as {aside}", flush=True)
        return _up(args, settings, tls, url)
    finally:
        ownership.release()


def summary(url: str, instances: int, key_file: Path, watching: Monitoring | None) -> str:
    """The block that ends the start-up: what an operator needs next, and nothing else."""
    lines = [
        f"fichas is up on {url} with {instances} instances",
        f"  {'admin key':<13} {key_file}",
        f"  {'status':<13} fichas status",
        f"  {'live view':<13} fichas top",
        *(
            f"  {name:<13} {address}"
            for name, address in (watching.urls if watching else {}).items()
        ),
        f"  {'stop':<13} Ctrl+C or SIGTERM; rolling restart: kill -HUP {os.getpid()}",
    ]
    return "\n".join(lines)


def _up(args: argparse.Namespace, settings: Settings, tls: Tls, url: str) -> int:
    import asyncio

    from backup.replication import same_disk_warning
    from fichas.cli import private_files
    from fichas.cli.startup import announce_admin_key, apply_migrations, event_loop_runner
    from observability.logs import configure_logging
    from proxy.cluster import build_cluster
    from proxy.monitoring import MonitoringUnavailable, monitoring

    configure_logging(settings.log_level, "supervisor", settings.log_format)
    if (open_files := private_files.warning(settings)) is not None:
        print(open_files, file=sys.stderr, flush=True)  # once, before anything is created
    if (exposed := same_disk_warning(settings)) is not None:
        print(exposed, file=sys.stderr, flush=True)
    print(apply_migrations(settings), flush=True)
    key_file = announce_admin_key(settings) or settings.data_dir / "admin.key"
    watching = None
    if args.observability:
        try:
            watching = monitoring(settings, args.prometheus_listen, args.alertmanager_listen)
        except MonitoringUnavailable as exc:
            print(f"fichas: {exc}", file=sys.stderr)
            return 2
    supervisor = build_cluster(
        settings,
        instances=args.instances,
        listen=args.listen,
        tls=tls,
        companions=watching.children if watching else (),
    )

    async def main() -> int:
        ready = asyncio.Event()
        running = asyncio.create_task(supervisor.run(ready))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            for note in watching.notes if watching is not None else []:
                print(note, flush=True)
            print(summary(url, args.instances, key_file, watching), flush=True)
        waiting.cancel()
        return await running

    return event_loop_runner(main())
