"""Backups under a real ``fichas up``: the scheduler takes a start-up backup, the supervisor's
``/metrics`` reports it, and ``fichas restore`` without ``--force`` refuses to touch the
database the cluster uses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from backup import manifest
from tests.backup.conftest import content
from tests.integration.test_cluster import running_cluster
from tests.support import assert_promtool_accepts, metric


def test_start_up_backup_metrics_and_a_refused_restore(tmp_path: Path) -> None:
    with running_cluster(tmp_path, "--instances", "1") as cluster:
        backups = tmp_path / "backups"
        deadline = time.monotonic() + 60
        while not manifest.newest_verified(backups):
            assert time.monotonic() < deadline, cluster.log_path.read_text()[-3000:]
            time.sleep(0.2)
        [taken] = manifest.complete(backups)
        assert taken.verified

        exposition = httpx2.get(cluster.status()["metrics_url"], timeout=5).text
        assert metric(exposition, "fichas_backup_last_success_timestamp_seconds") == (
            taken.created_at.timestamp()
        )
        assert metric(exposition, "fichas_backup_size_bytes") == taken.stored_bytes
        assert metric(exposition, "fichas_backup_duration_seconds") == taken.duration_seconds
        assert metric(exposition, "fichas_backup_interval_seconds") == 3600
        assert "fichas_backup_failures_total 0.0" in exposition
        assert metric(exposition, "fichas_database_size_bytes") > 0
        assert metric(exposition, "fichas_data_dir_available_bytes") > 0
        assert_promtool_accepts(exposition)

        database = tmp_path / "fichas.db"
        before = content(database)
        env = {**os.environ, "FICHAS_DATA_DIR": str(tmp_path)}
        env.pop("FICHAS_DATABASE_URL", None)
        refused = subprocess.run(
            [sys.executable, "-m", "fichas.cli", "restore", taken.id],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert refused.returncode == 1, refused.stdout + refused.stderr
        pid = cluster.status()["supervisor_pid"]
        assert f"refused: a running cluster (supervisor pid {pid}) uses" in refused.stderr
        assert "nothing was changed" in refused.stderr
        assert content(database) == before
        assert not list(tmp_path.glob("*before-restore*"))
