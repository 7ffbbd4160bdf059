"""``fichas backup run|list|verify [ID]|prune|schedule|replicate``: the backups of the database.

The scheduler under ``fichas up`` does what ``run`` does, on a timer; the two take turns on
the backup directory's lock.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fichas.processes import host_and_port

if TYPE_CHECKING:
    from backup.scheduler import BackupScheduler


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("backup", help="take, list, verify and prune backups")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    taking = actions.add_parser("run", help="take a backup now: snapshot, verify, prune")
    taking.set_defaults(run=_run)
    listing = actions.add_parser("list", help="list the complete backups, oldest first")
    listing.set_defaults(run=_list)
    checking = actions.add_parser("verify", help="check backups: checksum, integrity, rows")
    checking.add_argument("id", nargs="?", help="one backup (default: every backup)")
    checking.set_defaults(run=_verify)
    pruning = actions.add_parser("prune", help="delete what the retention policy does not keep")
    pruning.set_defaults(run=_prune)
    scheduling = actions.add_parser(
        "schedule",
        help="take backups on FICHAS_BACKUP_INTERVAL until stopped (what `fichas up` runs; "
        "for deployments without it)",
    )
    scheduling.add_argument(
        "--metrics-listen",
        type=host_and_port,
        metavar="HOST:PORT",
        help="serve the backup metrics for Prometheus there (default: not served)",
    )
    scheduling.set_defaults(run=_schedule)
    replicating = actions.add_parser(
        "replicate",
        help="run Litestream on the SQLite database until stopped (what `fichas up` runs; for "
        "deployments without it)",
    )
    replicating.add_argument(
        "--metrics-listen",
        type=host_and_port,
        metavar="HOST:PORT",
        default=("127.0.0.1", 9101),
        help="where Litestream serves its metrics (default 127.0.0.1:9101)",
    )
    replicating.set_defaults(run=_replicate)


_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """``812 B``, ``45.3 kB``, ``12.4 MB``, ``150 MB``: decimal units, the largest that shows a
    number under 1000 (999.7 kB shows as 1.0 MB, not 1000 kB), one decimal below 100."""
    value, unit = float(size), 0
    while value >= 999.5 and unit < len(_SIZE_UNITS) - 1:
        value, unit = value / 1000, unit + 1
    if unit == 0:
        return f"{size} B"
    shown = f"{value:.1f}" if value < 99.95 else f"{value:.0f}"
    return f"{shown} {_SIZE_UNITS[unit]}"


def _run(args: argparse.Namespace) -> int:
    from backup.job import run_backup
    from backup.manifest import BackupError
    from backup.postgres import ToolMissing
    from fichas.settings import load_settings

    settings = load_settings()
    try:
        report = run_backup(settings)
    except ToolMissing as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"fichas: backup failed: {exc}", file=sys.stderr)
        return 1
    taken = report.taken
    print(
        f"backup {taken.id}: {human_size(taken.raw_bytes)} → {human_size(taken.stored_bytes)} "
        f"in {taken.duration_seconds:.2f} s, verified; {settings.resolved_backup_dir / taken.file}"
    )
    if report.offsite_copy is not None:
        print(f"copied to {report.offsite_copy}")
    print(
        f"pruned {len(report.pruned)}: {', '.join(report.pruned)}"
        if report.pruned
        else "pruned none"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from backup import manifest
    from fichas.settings import load_settings

    directory = load_settings().resolved_backup_dir
    backups = manifest.complete(directory) if directory.exists() else []
    if not backups:
        print(f"no backups in {directory}; take one with `fichas backup run`")
        return 0
    print(f"{'id':<21} {'kind':<10} {'database':>11} {'stored':>11} {'pedidos':>9} verified")
    for m in backups:
        print(
            f"{m.id:<21} {m.kind:<10} {human_size(m.raw_bytes):>11} "
            f"{human_size(m.stored_bytes):>11} {m.row_counts.get('pedidos', 0):>9,} "
            f"{'yes' if m.verified else 'NO'}"
        )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from backup import manifest, store
    from backup.manifest import BackupError
    from backup.verify import verify
    from fichas.settings import load_settings

    directory = load_settings().resolved_backup_dir
    try:
        chosen = (
            [manifest.read(directory, args.id)] if args.id else manifest.every_manifest(directory)
        )
    except BackupError as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 1
    if not chosen:
        print(f"no backups in {directory}")
        return 1
    failed = 0
    with store.locked(directory):
        for m in chosen:
            verdict = verify(directory, m)
            failed += not verdict.ok
            print(f"{m.id}: {'ok' if verdict.ok else 'FAILED: ' + '; '.join(verdict.problems)}")
    return 1 if failed else 0


def _prune(args: argparse.Namespace) -> int:
    from backup import manifest, store
    from backup.prune import prune
    from backup.retention import Policy
    from fichas.settings import load_settings

    settings = load_settings()
    directory = settings.resolved_backup_dir
    with store.locked(directory):
        deleted = prune(directory, Policy.from_settings(settings))
    kept = len(manifest.complete(directory))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"{stamp}: deleted {len(deleted)} ({', '.join(deleted) or 'none'}); kept {kept}")
    return 0


def _replicate(args: argparse.Namespace) -> int:  # noqa: RET503 - execv does not return
    from backup import replication
    from fichas.settings import load_settings

    settings = load_settings()
    if not replication.replicating(settings):
        print(
            "fichas: nothing to replicate: replication needs a SQLite database file and "
            "FICHAS_REPLICATION on",
            file=sys.stderr,
        )
        return 2
    host, port = args.metrics_listen
    config = replication.write_config(
        settings, settings.data_dir / "cluster" / "litestream.yml", f"{host}:{port}"
    )
    argv = replication.replicate_argv(config)
    # Litestream in this process's place: the service manager's signals reach it directly.
    os.execv(argv[0], argv)  # noqa: S606 - our binary, arguments we built


def _schedule(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from backup import replication
    from backup.metrics import BackupMetrics, ReplicationMetrics
    from backup.scheduler import BackupScheduler
    from fichas.cli.startup import event_loop_runner
    from fichas.settings import load_settings
    from observability.logs import configure_logging
    from proxy.metrics import serve_metrics

    settings = load_settings()
    configure_logging(settings.log_level, settings.instance, settings.log_format)
    scheduler = BackupScheduler(settings)
    metrics = None
    if args.metrics_listen:
        host, port = args.metrics_listen
        registry = CollectorRegistry()
        registry.register(BackupMetrics(settings, lambda: scheduler.failures))
        if replication.replicating(settings):  # the replica as a restore would find it
            registry.register(ReplicationMetrics(settings))
        metrics = serve_metrics(registry, port, host)
    try:
        event_loop_runner(_until_stopped(scheduler))
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
    return 0


async def _until_stopped(scheduler: BackupScheduler) -> None:
    """The schedule, until SIGTERM or SIGINT (a run in progress is finished first)."""
    import asyncio
    import contextlib
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(scheduler.run())
    await stop.wait()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
