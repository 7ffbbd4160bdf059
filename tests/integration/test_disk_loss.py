"""The disk-loss drill, for real: 25 PCs write orders through ``fichas up``; every process is
killed (``kill -9``) and the database files deleted; ``fichas restore --latest`` rebuilds the
database from Litestream's replica and ``fichas up`` serves again. Every order acknowledged more
than a second before the kill is there. And Litestream killed under load is restarted by the
supervisor, its replica missing nothing.

The figures (acknowledged orders lost, seconds from the restore command to serving) are printed
with ``-s``; docs/BENCHMARKS.md records them over several drills (benchmarks/replication.py)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from contextlib import closing
from pathlib import Path

import httpx2

from backup import sqlite
from loadtest.orders import OrderWriters
from tests.integration.test_cluster import Cluster, running_cluster
from tests.support import metric, run_fichas

PCS = 25
THINK_SECONDS = 0.05  # between one PC's orders: ~25 × 15 writes/s, well within one host's pace
RPO_SECONDS = 1.0


def _writers(cluster: Cluster) -> OrderWriters:
    return OrderWriters(cluster.base_url, cluster.token, PCS, THINK_SECONDS)


def _pids(cluster: Cluster) -> list[int]:
    """The supervisor first (so that it restarts nothing), then every process it runs."""
    status = cluster.status()
    children = [*status["instances"], status["proxy"], *status["companions"]]
    return [status["supervisor_pid"], *(child["pid"] for child in children)]


def _pedidos(database: Path) -> set[int]:
    with closing(sqlite.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM pedidos")}


def test_a_lost_disk_loses_no_order_acknowledged_a_second_before(tmp_path: Path) -> None:
    database = tmp_path / "fichas.db"
    with running_cluster(tmp_path, "--instances", "2") as cluster:
        writers = _writers(cluster).start()
        time.sleep(20)
        killed_at = time.time()
        for pid in _pids(cluster):
            os.kill(pid, signal.SIGKILL)
        acknowledged = writers.stop()
    assert len(acknowledged.at) > PCS * 20, f"the PCs hardly wrote: {len(acknowledged.at)}"

    # The disk is lost: the database, its WAL, Litestream's local state beside it.
    for part in (database, *sqlite.sidecars(database)):
        part.unlink(missing_ok=True)
    shutil.rmtree(tmp_path / ".fichas.db-litestream", ignore_errors=True)
    refused = run_fichas(tmp_path, "up", "--listen", "127.0.0.1:1")
    assert refused.returncode == 2  # no silent fresh start: it points at the replica
    assert "`fichas restore --latest`" in refused.stderr, refused.stderr

    started = time.monotonic()
    restored = run_fichas(tmp_path, "restore", "--latest")
    assert restored.returncode == 0, restored.stderr
    restore_seconds = time.monotonic() - started
    present = _pedidos(database)
    due = {pid for pid, at in acknowledged.at.items() if at < killed_at - RPO_SECONDS}
    with running_cluster(tmp_path, "--instances", "2") as cluster, cluster.client() as client:
        assert client.get("/health").status_code == 200
        serving_seconds = time.monotonic() - started
        assert client.get(f"/pedidos/{max(due)}").status_code == 200  # served, not just on disk

    missing = due - present
    assert not missing, f"{len(missing)} orders acknowledged over a second before the kill lost"
    lost = set(acknowledged.at) - present
    worst = max((killed_at - acknowledged.at[pid] for pid in lost), default=0.0)
    print(
        f"\ndisk-loss drill: {len(acknowledged.at)} orders acknowledged, {len(lost)} lost "
        f"(acknowledged within {worst:.2f} s of the kill); restore {restore_seconds:.1f} s, "
        f"serving again {serving_seconds:.1f} s after the restore command"
    )


def test_litestream_killed_under_load_is_restarted_and_its_replica_misses_nothing(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, "--instances", "2") as cluster:
        [litestream] = [c for c in cluster.status()["companions"] if c["name"] == "litestream"]

        writers = _writers(cluster).start()
        time.sleep(5)
        os.kill(litestream["pid"], signal.SIGKILL)
        time.sleep(10)
        acknowledged = writers.stop()
        assert not acknowledged.failures, acknowledged.failures[:5]
        [after] = [c for c in cluster.status()["companions"] if c["name"] == "litestream"]
        assert (after["restarts"], after["pid"] != litestream["pid"]) == (1, True)
        metrics_url = cluster.status()["metrics_url"]
        deadline = time.monotonic() + 30
        while True:  # the restarted Litestream catches up with what it missed
            exposition = httpx2.get(metrics_url, timeout=10).text
            if metric(exposition, "fichas_replication_lag_seconds") == 0:
                time.sleep(1.5)  # lag is exact to a second: past the next one, all is there
                break
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.5)
        assert metric(exposition, 'fichas_process_restarts_total{process="litestream"}') == 1
        replica = tmp_path / "from-replica.db"
        restored = run_fichas(tmp_path, "restore", "--latest", "--to", str(replica))
        assert restored.returncode == 0, restored.stderr
    missing = set(acknowledged.at) - _pedidos(replica)
    assert not missing, f"{len(missing)} of {len(acknowledged.at)} orders not in the replica"
