"""``fichas up``: the whole cluster — migrations, N API instances, Caddy in front, supervised —
on one host; or, with ``--role``, one host's part of a cluster on several (docs/OPERATIONS.md,
"Several hosts"): an app host's instances, or a front host's proxy."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fichas.settings import Settings
    from proxy.caddy import Tls
    from proxy.supervisor import Supervisor

DEFAULT_LISTEN = "0.0.0.0:8080"


ROLES = ("single", "app", "front")


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("up", help="run the cluster: API instances behind Caddy")
    parser.add_argument(
        "--role",
        choices=ROLES,
        default="single",
        help="single: everything on this host (default); app: this host's instances, for a "
        "front host (on --listen's address, from its port on); front: the proxy in front of "
        "the instances --upstreams lists",
    )
    parser.add_argument("--instances", type=int, default=3, help="API instances (default 3)")
    parser.add_argument(
        "--listen",
        help=f"public host:port (default {DEFAULT_LISTEN}); --role app: the LAN address and "
        "first port of its instances (required)",
    )
    parser.add_argument(
        "--upstreams",
        type=Path,
        metavar="FILE",
        help="--role front: the instances' host:port, one a line; reloaded when it changes",
    )
    parser.add_argument(
        "--backups",
        action="store_true",
        help="--role app: this is the host that takes the scheduled backups (one host does)",
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


def _role_problem(args: argparse.Namespace) -> str | None:
    """Why the options do not make sense together for the role; None when they do."""
    if args.role == "app" and args.listen is None:
        return (
            "--role app needs --listen HOST:PORT: the address the front host reaches this "
            "host's instances on (the first's port; the next ones take the following ports)"
        )
    if (args.role == "front") != (args.upstreams is not None):
        return "--upstreams FILE goes with --role front, which needs it: the instances it fronts"
    if args.backups and args.role != "app":
        return "--backups is for --role app (a single host always takes its backups)"
    if args.role == "app" and (args.tls or args.tls_cert or args.tls_key):
        return "--tls is the front host's: the PCs reach the cluster through it"
    if args.role != "single" and args.observability:
        return (
            "--observability runs on a single host; on several, your Prometheus scrapes each "
            "host (the targets file beside fichas status's, docs/OPERATIONS.md)"
        )
    if args.role != "front" and not 1 <= args.instances <= 32:
        return "--instances must be between 1 and 32"
    return None


def _addresses(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Every address the role listens on, with the option that chose it: checked before start."""
    from fichas.processes import host_and_port

    if args.role == "app":
        host, port = host_and_port(args.listen)
        shown = f"[{host}]" if ":" in host else host
        return [("--listen", f"{shown}:{port + n}") for n in range(args.instances)]
    chosen = [
        ("--listen", args.listen),
        ("--prometheus-listen", args.prometheus_listen),
        ("--alertmanager-listen", args.alertmanager_listen),
    ]
    return [(option, address) for option, address in chosen if address is not None]


def run(args: argparse.Namespace) -> int:
    from backup.manifest import BackupError
    from backup.replication import retire_replica
    from backup.restore import lost_database
    from fichas import owner
    from fichas.settings import load_settings
    from proxy.caddy import public_url
    from proxy.cluster import listen_problem

    if (problem := _role_problem(args)) is not None:
        print(f"fichas: {problem}", file=sys.stderr)
        return 2
    args.listen = args.listen or DEFAULT_LISTEN
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
        try:
            chosen = _addresses(args)
        except ValueError as exc:
            print(f"fichas: --listen {args.listen}: {exc}", file=sys.stderr)
            return 2
        for option, address in chosen:
            if (problem := listen_problem(address, option)) is not None:
                print(f"fichas: {problem}", file=sys.stderr)
                return 2
        if args.role == "front":
            return _front(args, settings, tls, url)
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


def summary(headline: str, rows: dict[str, str], instances: bool = True) -> str:
    """The block that ends the start-up: what an operator needs next, and nothing else.
    ``instances``: there are some here to restart (not on a front host)."""
    stop = "Ctrl+C or SIGTERM"
    if instances:
        stop += f"; rolling restart: kill -HUP {os.getpid()}"
    rows = {**rows, "status": "fichas status", "live view": "fichas top", "stop": stop}
    return "\n".join([headline, *(f"  {name:<13} {value}" for name, value in rows.items())])


def _up(args: argparse.Namespace, settings: Settings, tls: Tls, url: str) -> int:
    from backup.replication import same_disk_warning
    from fichas.cli import private_files
    from fichas.cli.startup import announce_admin_key, apply_migrations
    from observability.logs import configure_logging
    from proxy.cluster import build_app_host, build_cluster
    from proxy.monitoring import MonitoringUnavailable, monitoring

    configure_logging(settings.log_level, "supervisor", settings.log_format)
    if (open_files := private_files.warning(settings)) is not None:
        print(open_files, file=sys.stderr, flush=True)  # once, before anything is created
    if (exposed := same_disk_warning(settings)) is not None:
        print(exposed, file=sys.stderr, flush=True)
    if args.role == "app" and (untrusted := _proxy_not_trusted(settings)) is not None:
        print(untrusted, file=sys.stderr, flush=True)
    print(apply_migrations(settings), flush=True)
    key_file = announce_admin_key(settings) or settings.data_dir / "admin.key"
    if args.role == "app":
        supervisor = build_app_host(
            settings, instances=args.instances, listen=args.listen, backups=args.backups
        )
        addresses = ", ".join(i.url.removeprefix("http://") for i in supervisor.instances if i.url)
        headline = f"fichas app host is up with {args.instances} instances"
        rows = {
            "admin key": str(key_file),
            "front host": f"list them in its upstreams file: {addresses}",
            "backups": "taken here" if args.backups else "on the host started with --backups",
        }
        return _supervise(supervisor, headline, rows, notes=[])
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
    rows = {"admin key": str(key_file), **(watching.urls if watching else {})}
    headline = f"fichas is up on {url} with {args.instances} instances"
    return _supervise(supervisor, headline, rows, notes=watching.notes if watching else [])


def _front(args: argparse.Namespace, settings: Settings, tls: Tls, url: str) -> int:
    from observability.logs import configure_logging
    from proxy.cluster import build_front_host
    from proxy.upstreams import UpstreamsError, read_upstreams

    configure_logging(settings.log_level, "supervisor", settings.log_format)
    try:
        upstreams = read_upstreams(args.upstreams)
    except UpstreamsError as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 2
    supervisor = build_front_host(
        settings, listen=args.listen, tls=tls, upstreams=upstreams, upstreams_file=args.upstreams
    )
    headline = f"fichas is up on {url} in front of {len(upstreams)} instances"
    rows = {"instances": f"{args.upstreams} (edit it: the proxy reloads within a second)"}
    return _supervise(supervisor, headline, rows, notes=[])


def _proxy_not_trusted(settings: Settings) -> str | None:
    """A warning when the front host's X-Forwarded-For would not be believed: every PC's
    requests would seem to come from it (one client address for the limits, in the logs)."""
    if any(not network.is_loopback for network in settings.trusted_proxies):
        return None
    return (
        "fichas: warning: FICHAS_TRUSTED_PROXIES lists loopback only, so the PCs' addresses the "
        "front host passes on are not believed: set it to the front host's address"
    )


def _supervise(
    supervisor: Supervisor, headline: str, rows: dict[str, str], notes: list[str]
) -> int:
    """Run ``supervisor`` until it stops; once it is up, print ``notes`` and the summary."""
    import asyncio

    from fichas.cli.startup import event_loop_runner

    async def main() -> int:
        ready = asyncio.Event()
        running = asyncio.create_task(supervisor.run(ready))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            for note in notes:
                print(note, flush=True)
            print(summary(headline, rows, bool(supervisor.instances)), flush=True)
        waiting.cancel()
        return await running

    return event_loop_runner(main())
