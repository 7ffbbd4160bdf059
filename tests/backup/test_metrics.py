"""The supervisor-side metrics: values from the newest verified backup, the failure count, the
interval, the database's size and the free space; names as the alerts expect them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from backup import sqlite
from backup.job import run_backup
from backup.metrics import BackupMetrics
from fichas.settings import Settings
from tests.support import assert_promtool_accepts, metric


def _exposition(settings: Settings, failures: int = 0) -> str:
    registry = CollectorRegistry()
    registry.register(BackupMetrics(settings, lambda: failures))
    return generate_latest(registry).decode()


def test_before_the_first_backup_only_failures_interval_and_storage(
    sqlite_settings: Settings,
) -> None:
    exposition = _exposition(sqlite_settings, failures=2)
    assert "fichas_backup_last_success_timestamp_seconds" not in exposition
    assert metric(exposition, "fichas_backup_failures_total") == 2
    assert metric(exposition, "fichas_backup_interval_seconds") == 3600
    assert metric(exposition, "fichas_data_dir_available_bytes") > 0
    assert_promtool_accepts(exposition)


def test_after_a_backup(sqlite_settings: Settings) -> None:
    taken = run_backup(sqlite_settings).taken
    exposition = _exposition(sqlite_settings)
    assert metric(exposition, "fichas_backup_last_success_timestamp_seconds") == (
        taken.created_at.timestamp()
    )
    assert metric(exposition, "fichas_backup_duration_seconds") == taken.duration_seconds
    assert metric(exposition, "fichas_backup_size_bytes") == taken.stored_bytes
    database = sqlite.database_file(sqlite_settings)
    wal = database.with_name("fichas.db-wal")
    expected = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert metric(exposition, "fichas_database_size_bytes") == expected
    assert_promtool_accepts(exposition)
