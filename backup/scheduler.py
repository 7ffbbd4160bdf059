"""Backups on a timer under ``fichas up``: an asyncio task in the supervisor's process.

The run itself (file copying and compression) goes to a thread so the supervisor's loop keeps
watching its processes. At start-up it backs up at once if the newest verified backup is older
than the interval (or there is none), else when that one turns the interval old; then every
interval. A failed run is retried with exponential backoff and every failed attempt is counted
(``fichas_backup_failures_total``); after the last try it waits for the next interval.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

import backoff
from backoff.types import Details

from backup import manifest
from backup.job import Report, run_backup
from fichas.settings import Settings

log = logging.getLogger("fichas.backup")


class BackupScheduler:
    def __init__(self, settings: Settings, *, tries: int = 4, first_retry_seconds: float = 5.0):
        self.settings = settings
        self.failures = 0
        # Retries 5, 10, 20 s apart (jittered): long enough for a locked database or a busy
        # disk to clear, short enough to finish well within an hourly interval.
        self._run_with_retries = backoff.on_exception(
            backoff.expo,
            Exception,  # whatever went wrong, it is counted and retried, never the end of backups
            max_tries=tries,
            factor=first_retry_seconds,
            on_backoff=self._failed,
            on_giveup=self._failed,
            raise_on_giveup=False,
            logger=None,
        )(self._run_in_thread)

    def seconds_until_due(self, now: float) -> float:
        newest = manifest.newest_verified(self.settings.resolved_backup_dir)
        if newest is None:
            return 0.0
        age = now - newest.created_at.timestamp()
        return max(0.0, self.settings.backup_interval - age)

    async def run(self) -> None:
        """Back up on schedule until cancelled."""
        delay = self.seconds_until_due(time.time())
        while True:
            await asyncio.sleep(delay)
            await self._run_with_retries()
            delay = self.settings.backup_interval

    async def _run_in_thread(self) -> Report:
        report = await asyncio.to_thread(run_backup, self.settings)
        taken = report.taken
        log.info(
            "backup %s: %d bytes (%d raw) in %.1f s, verified; pruned %d",
            taken.id, taken.stored_bytes, taken.raw_bytes, taken.duration_seconds,
            len(report.pruned),
        )  # fmt: skip
        return report

    def _failed(self, details: Details) -> None:
        self.failures += 1
        # backoff calls this from its except block: the exception being handled is the cause.
        log.error("backup attempt %d failed: %s", details["tries"], sys.exception())
