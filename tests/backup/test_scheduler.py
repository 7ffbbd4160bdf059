"""The scheduler: a backup at start-up when the newest is older than the interval, none when it
is fresh; failed attempts retried with backoff and each counted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from backup import manifest
from backup.job import run_backup
from backup.scheduler import BackupScheduler
from fichas.settings import Settings, SettingsError, load_settings


async def _run_for(scheduler: BackupScheduler, seconds: float) -> None:
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.slow
def test_a_backup_at_start_up_then_every_interval(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"backup_interval": 1.5})
    scheduler = BackupScheduler(settings)
    assert scheduler.seconds_until_due(time.time()) == 0  # no backup yet: due now
    asyncio.run(_run_for(scheduler, 2.5))  # at 0 s and at ~1.5 s
    taken = manifest.every_manifest(settings.resolved_backup_dir)
    # Both in the same hour, so retention kept the newer; its age shows the second run happened.
    assert len(taken) == 1
    assert taken[0].verified
    assert time.time() - taken[0].created_at.timestamp() < 1.5
    assert scheduler.failures == 0


@pytest.mark.slow
def test_a_fresh_backup_defers_the_first_run(sqlite_settings: Settings) -> None:
    taken = run_backup(sqlite_settings).taken
    scheduler = BackupScheduler(sqlite_settings)  # interval: one hour
    due = scheduler.seconds_until_due(time.time())
    assert 3590 < due <= 3600
    asyncio.run(_run_for(scheduler, 0.5))
    assert manifest.every_manifest(sqlite_settings.resolved_backup_dir) == [taken]


@pytest.mark.slow
def test_failures_are_retried_and_counted(tmp_path: Path) -> None:
    broken = Settings(data_dir=tmp_path / "nothing-here")  # no database to back up
    scheduler = BackupScheduler(broken, tries=3, first_retry_seconds=0.05)
    asyncio.run(_run_for(scheduler, 2))
    assert scheduler.failures == 3  # three tries, then it waits for the next interval


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3600", 3600), ("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172_800)],
)
def test_the_interval_is_seconds_or_a_duration(
    value: str, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FICHAS_BACKUP_INTERVAL", value)
    assert load_settings().backup_interval == seconds


@pytest.mark.parametrize("value", ["soon", "h", "0", "-5m"])
def test_a_bad_interval_names_the_variable(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FICHAS_BACKUP_INTERVAL", value)
    with pytest.raises(SettingsError, match="FICHAS_BACKUP_INTERVAL"):
        load_settings()
