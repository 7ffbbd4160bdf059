"""Backup, replication and storage metrics on the supervisor's ``/metrics``, read at scrape time.

From the backup directory's manifests (so a hand-run ``fichas backup run`` counts as much as a
scheduled one, and a restarted supervisor still knows the last success), the scheduler's failure
count, and the filesystem. Names are fixed by the alerting rules and dashboards.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.db.engine import is_sqlite
from backup import manifest, replication, sqlite
from backup.manifest import BackupError
from fichas.settings import Settings

log = logging.getLogger("fichas.backup")


class BackupMetrics(Collector):
    def __init__(self, settings: Settings, failures: Callable[[], int]) -> None:
        self.settings = settings
        self.failures = failures

    def collect(self) -> Iterator[Metric]:
        newest = manifest.newest_verified(self.settings.resolved_backup_dir)
        if newest is not None:  # no sample at all before the first backup: "absent", not 0
            yield _gauge(
                "fichas_backup_last_success_timestamp_seconds",
                "When the newest verified backup was taken, in seconds since the epoch.",
                newest.created_at.timestamp(),
            )
            yield _gauge(
                "fichas_backup_duration_seconds",
                "How long the newest verified backup took to take.",
                newest.duration_seconds,
            )
            yield _gauge(
                "fichas_backup_size_bytes",
                "Size on disk (compressed) of the newest verified backup.",
                newest.stored_bytes,
            )
        failures = CounterMetricFamily(
            "fichas_backup_failures",
            "Backup attempts that failed (each retry counts) since the supervisor started.",
        )
        failures.add_metric([], self.failures())
        yield failures
        yield _gauge(
            "fichas_backup_interval_seconds",
            "The configured time between backups.",
            self.settings.backup_interval,
        )
        if is_sqlite(self.settings):
            database = sqlite.database_file(self.settings)
            files = [database, sqlite.sidecars(database)[0]]
            yield _gauge(
                "fichas_database_size_bytes",
                "Size of the SQLite database file plus its write-ahead log.",
                sum(f.stat().st_size for f in files if f.exists()),
            )
        data_dir = self.settings.data_dir
        if data_dir.exists():
            disk = os.statvfs(data_dir)
            yield _gauge(
                "fichas_data_dir_available_bytes",
                "Free space an unprivileged process can use on the data directory's filesystem.",
                disk.f_bavail * disk.f_frsize,
            )


class ReplicationMetrics(Collector):
    """How far behind Litestream's replica is, asked of the replica itself at scrape time (one
    listing: a directory read for a folder, one request for a bucket) — what a restore would
    get, not what Litestream believes it sent. Litestream's own /metrics (a scrape target of
    its own) adds its sync errors."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        try:
            # Short of Prometheus's 10 s scrape timeout: a slow replica is "unreadable", not a
            # failed scrape of every supervisor metric.
            state = replication.replica_state(self.settings, timeout=5)
        except BackupError as exc:
            log.warning("cannot read the replica: %s", exc)
            yield _gauge("fichas_replica_readable", _READABLE, 0)
            return
        yield _gauge("fichas_replica_readable", _READABLE, 1)
        yield _gauge(
            "fichas_replication_lag_seconds",
            "Age of the oldest database change the replica does not hold yet (0: it holds "
            "them all); to a second.",
            replication.lag_seconds(self.settings, state, now),
        )
        if state is not None:  # an empty replica has no last sync: absent, not 0
            yield _gauge(
                "fichas_replication_last_sync_timestamp_seconds",
                "When the replica's newest transaction reached it, in seconds since the epoch.",
                state.synced_at,
            )
            yield _gauge(
                "fichas_replica_size_bytes",
                "What the replica keeps (snapshots and transaction files, all levels).",
                state.size_bytes,
            )


_READABLE = "1 when the supervisor could list the replica, 0 when not (see its log)."


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
