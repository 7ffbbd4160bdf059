"""Cache-aside with a real Redis of the test's own: hits skip the database, writes invalidate,
and a Redis that dies is bypassed (never waited on) until it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.resilience import breaker
from fichas.settings import Settings
from loadtest.target import RedisServer, redis_server
from tests.clock import Clock
from tests.support import (
    assert_promtool_accepts,
    make_token,
    metric,
    migrated_engine,
    new_cliente,
)

COOLDOWN = 0.5


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as running:
        yield running


@pytest.fixture
def api(tmp_path: Path, redis: RedisServer) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        redis_url=redis.url,
        breaker_threshold=2,
        breaker_cooldown_seconds=COOLDOWN,
        auth_cache_seconds=300,
    )
    engine = migrated_engine(settings)
    token = make_token(engine, "pc-cache", ["read", "write"])
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _count(api: TestClient, family: str, result: str) -> float:
    series = f'fichas_cache_requests_total{{cache="{family}",result="{result}"}}'
    return metric(api.get("/metrics").text, series)


def test_a_second_read_is_a_hit_with_the_same_body_and_etag(api: TestClient) -> None:
    cliente = new_cliente(api)
    first = api.get(f"/clientes/{cliente['id']}")
    second = api.get(f"/clientes/{cliente['id']}")
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert (_count(api, "clientes", "miss"), _count(api, "clientes", "hit")) == (1, 1)
    etag = {"If-None-Match": first.headers["etag"]}
    assert api.get(f"/clientes/{cliente['id']}", headers=etag).status_code == 304


def test_query_order_does_not_matter_and_a_write_invalidates(api: TestClient) -> None:
    cliente = new_cliente(api, nome="Antes", cidade="Blumenau")
    assert api.get("/clientes?cidade=Blumenau&limit=5").json()["items"][0]["nome"] == "Antes"
    assert api.get("/clientes?limit=5&cidade=Blumenau").status_code == 200
    assert _count(api, "clientes", "hit") == 1
    assert api.patch(f"/clientes/{cliente['id']}", json={"nome": "Depois"}).status_code == 200
    assert api.get("/clientes?cidade=Blumenau&limit=5").json()["items"][0]["nome"] == "Depois"
    assert api.get(f"/clientes/{cliente['id']}").json()["nome"] == "Depois"


def test_errors_are_not_cached(api: TestClient) -> None:
    assert api.get("/clientes/999999").status_code == 404
    assert api.get("/clientes/999999").status_code == 404
    assert _count(api, "clientes", "hit") == 0


def _breaker_open(api: TestClient) -> bool:
    return (
        'fichas_circuit_breaker_state{breaker="redis",state="open"} 1.0' in api.get("/metrics").text
    )


@pytest.mark.slow
def test_a_dead_redis_is_bypassed_then_used_again(
    api: TestClient, redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock().install(monkeypatch, breaker)
    cliente = new_cliente(api)
    path = f"/clientes/{cliente['id']}"
    assert api.get(path).status_code == 200
    redis.kill()
    for _ in range(5):
        started = time.monotonic()
        assert api.get(path).status_code == 200  # answered from the database
        assert time.monotonic() - started < 1  # never waiting on Redis
    assert _count(api, "clientes", "bypass") == 5
    assert _breaker_open(api)
    # A refused connection was tried once more (at once), then given up on.
    gave_up = 'fichas_retries_total{operation="redis.mget",outcome="exhausted"}'
    assert gave_up in api.get("/metrics").text
    assert api.get("/ready").json() == {"status": "ok", "redis": "degraded"}  # still ready

    redis.start()  # empty: Redis here keeps nothing on disk
    clock.advance(COOLDOWN)
    api.get(path)  # the probe closes the breaker; a miss (the entry died with Redis)
    assert not _breaker_open(api)
    hits = _count(api, "clientes", "hit")
    assert api.get(path).status_code == 200
    assert _count(api, "clientes", "hit") == hits + 1
    assert api.get("/ready").json() == {"status": "ok", "redis": "ok"}
    # Every mechanism has acted by now: its metrics are there, and promtool likes them all.
    exposition = api.get("/metrics").text
    for name in (
        "fichas_cache_requests_total",
        "fichas_circuit_breaker_transitions_total",
        "fichas_circuit_breaker_calls_total",
        "fichas_rate_limit_fallbacks_total",
    ):
        assert f"\n{name}{{" in exposition or f"\n{name} " in exposition, name
    assert_promtool_accepts(exposition)
