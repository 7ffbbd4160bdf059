"""``fichas backup schedule``: the scheduler on its own (for deployments without ``fichas up``):
a start-up backup, the backup metrics on the address asked for, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest

from backup import manifest
from fichas.processes import free_port
from fichas.settings import Settings
from tests.support import metric


@pytest.mark.slow
def test_schedule_backs_up_at_once_and_serves_its_metrics(sqlite_settings: Settings) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "fichas.cli", "backup", "schedule",
            "--metrics-listen", f"127.0.0.1:{port}"]  # fmt: skip
    log = sqlite_settings.data_dir / "schedule.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=dict(os.environ), stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while manifest.newest_verified(sqlite_settings.resolved_backup_dir) is None:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        taken = manifest.newest_verified(sqlite_settings.resolved_backup_dir)
        assert taken is not None
        exposition = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        stamp = metric(exposition, "fichas_backup_last_success_timestamp_seconds")
        assert stamp == taken.created_at.timestamp()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
