"""A database that cannot answer: 503 problems at once once the breaker opens, reads go on,
and the instance recovers by itself when the database does. A real ``fichas serve`` on SQLite,
whose write lock this test takes and holds past the busy timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from api.db.engine import sqlite_module
from fichas.settings import Settings
from tests.support import assert_problem, make_token, metric, migrated_engine, running_server

BUSY_MS = 1000
COOLDOWN = 1.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[httpx2.Client, Path]]:
    settings = Settings(data_dir=tmp_path)
    engine = migrated_engine(settings)
    token = make_token(engine, "pc-breaker", ["read", "write"])
    engine.dispose()
    env = {
        "FICHAS_DATA_DIR": str(tmp_path),
        "FICHAS_DB_BUSY_TIMEOUT_MS": str(BUSY_MS),
        "FICHAS_BREAKER_THRESHOLD": "3",
        "FICHAS_BREAKER_COOLDOWN_SECONDS": str(COOLDOWN),
        "FICHAS_AUTH_CACHE_SECONDS": "300",
        "FICHAS_LOG_LEVEL": "warning",
    }
    with running_server(env, tmp_path / "server.log") as url:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
            yield client, tmp_path / "fichas.db"


def _cliente(n: int) -> dict[str, str]:
    return {"nome": f"Cliente {n}"}


def _state(client: httpx2.Client, state: str) -> float:
    series = f'fichas_circuit_breaker_state{{breaker="database-write",state="{state}"}}'
    return metric(client.get("/metrics").text, series)


@pytest.mark.slow
def test_writes_fail_fast_while_the_database_is_locked_then_recover(
    server: tuple[httpx2.Client, Path],
) -> None:
    client, database = server
    assert client.get("/clientes").status_code == 200  # warm: authenticated, connections open
    holder = sqlite_module().connect(str(database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held past every busy timeout
    try:
        waits = []
        for n in range(6):
            started = time.monotonic()
            response = client.post("/clientes", json=_cliente(n))
            waits.append(time.monotonic() - started)
            assert_problem(response, 503, "database-unavailable")
            assert int(response.headers["retry-after"]) >= 1
        # The first three waited for the lock (never past the budget: busy timeout + 1 s)...
        assert all(BUSY_MS / 1000 * 0.9 <= w < BUSY_MS / 1000 + 1.5 for w in waits[:3]), waits
        # ...then the breaker opened and the others were refused without waiting at all.
        assert all(w < BUSY_MS / 1000 / 2 for w in waits[3:]), waits
        assert _state(client, "open") == 1
        # A locked file stops writes, not reads (WAL readers never wait for the lock).
        assert client.get("/clientes").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    time.sleep(COOLDOWN + 0.2)
    assert client.post("/clientes", json=_cliente(99)).status_code == 201  # the probe
    assert _state(client, "closed") == 1
    assert client.post("/clientes", json=_cliente(100)).status_code == 201
