"""Every query of every panel of every Grafana dashboard returns data from a real Prometheus
(Debian's) scraping a real two-instance cluster after a short, varied load: a dashboard that
names a metric the code does not export fails here, listing each panel that stayed empty.

The load makes each event a panel counts happen at least once, rather than the queries
pretending (``or vector(0)``) that a counter never incremented exists: reads, a cached read
twice, a write, a 404, requests over a (lowered) rate limit, and one write while the test holds
the SQLite write lock, which the instance retries once and then answers 503. Backups run every
few seconds, so the backup panels have a snapshot to show.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from api.db.engine import sqlite_module
from loadtest.target import Target, own_cluster, redis_server
from tests.grafana.dashboards import PanelQuery, panel_queries
from tests.prometheus import bundled_config, query, running_prometheus

ROOT_LIMIT = 2  # requests per minute to / from one client: the third is refused (429)
CLUSTER_ENVIRONMENT = {
    "FICHAS_RATE_LIMIT_ROOT": f"{ROOT_LIMIT}/minute",
    # Short enough that a write meeting a held lock fails quickly, which is the failure the
    # instance retries (a slow one only counts against the circuit breaker).
    "FICHAS_DB_BUSY_TIMEOUT_MS": "100",
    "FICHAS_BACKUP_INTERVAL": "5s",
}
PATIENCE = 90  # seconds for every query to return data: scrapes and rules run every second


def test_every_dashboard_query_returns_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = list(panel_queries())
    for name, value in CLUSTER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)  # own_cluster passes its environment on
    (tmp_path / "redis").mkdir()
    (tmp_path / "prometheus").mkdir()
    with (
        redis_server(tmp_path / "redis") as redis,  # so that reads are cached
        own_cluster(tmp_path, 2, tmp_path / "cluster.log", redis) as cluster,
        running_prometheus(bundled_config(tmp_path), tmp_path / "prometheus") as url,
    ):
        statuses = _exercise(cluster, tmp_path / "fichas.db")
        assert {200, 201, 404, 429, 503} <= statuses, f"the load did not do its job: {statuses}"
        empty = _still_empty_after(url, queries, PATIENCE)
    assert not empty, f"{len(empty)} of {len(queries)} dashboard queries returned no series:\n" + (
        "\n".join(map(str, empty))
    )


def _exercise(cluster: Target, database: Path) -> set[int]:
    """Each kind of request the panels count, once or a few times; the statuses answered."""
    headers = {"Authorization": f"Bearer {cluster.admin_key}"}
    with httpx2.Client(base_url=cluster.url, headers=headers, timeout=30) as client:
        answers = [
            client.post("/clientes", json={"nome": "Painel Teste"}),  # a write
            client.get("/clientes"),  # a cache miss...
            client.get("/clientes"),  # ...then a hit
            client.get("/pedidos?limit=5"),
            client.get("/clientes/999999999"),  # 404
        ]
        answers += [client.get("/") for _ in range(ROOT_LIMIT + 2)]  # the last ones 429
        with _write_lock_held(database):
            answers.append(client.post("/clientes", json={"nome": "Bloqueado"}))  # 503
    return {answer.status_code for answer in answers}


@contextmanager
def _write_lock_held(database: Path) -> Iterator[None]:
    """SQLite's write lock on ``database``, held by this process (as another writer would)."""
    holder = sqlite_module().connect(str(database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.close()  # which rolls the (empty) transaction back


def _still_empty_after(url: str, queries: list[PanelQuery], seconds: float) -> list[PanelQuery]:
    """The queries that have not returned a series within ``seconds`` (polled every 2 s)."""
    pending = queries
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        pending = [q for q in pending if not query(url, q.concrete)]
        if pending:
            time.sleep(2)
    return pending
