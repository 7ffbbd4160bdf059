"""Rate limits: per key and route class, 429 problems with the IETF draft's fields, others
unaffected; counters in memory without Redis (here) and shared through Redis (integration)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.cache.store import redis_breaker, redis_pool
from api.resilience import ratelimit
from api.resilience.breaker import Breaker
from api.resilience.ratelimit import InstanceMemory, RateLimiter
from fichas.settings import Settings
from loadtest.target import redis_server
from observability.metrics import build_metrics
from tests.clock import Clock
from tests.support import assert_problem, make_token, migrated_engine


@pytest.fixture
def app_and_tokens(tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    settings = Settings(data_dir=tmp_path, rate_limit_read="3/minute", rate_limit_root="2/minute")
    engine = migrated_engine(settings)
    tokens = [make_token(engine, f"pc-{n}", ["read", "write"]) for n in (1, 2)]
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        yield client, tokens[0], tokens[1]


def test_a_key_over_its_limit_gets_429_and_the_others_do_not(
    app_and_tokens: tuple[TestClient, str, str],
) -> None:
    client, mine, theirs = app_and_tokens
    me = {"Authorization": f"Bearer {mine}"}
    assert [client.get("/clientes", headers=me).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/clientes/1", headers=me)  # reads share one limit, whatever the path
    body = assert_problem(refused, 429, "rate-limited")
    assert "3 read requests per 60 s" in body["detail"]
    assert refused.headers["ratelimit-policy"] == '"read";q=3;w=60'
    match = re.fullmatch(r'"read";r=0;t=(\d+)', refused.headers["ratelimit"])
    assert match is not None, refused.headers["ratelimit"]
    assert 1 <= int(match[1]) <= 60
    assert refused.headers["retry-after"] == match[1]
    # Writes have their own budget; another key its own.
    them = {"Authorization": f"Bearer {theirs}"}
    assert client.get("/clientes", headers=them).status_code == 200
    metrics = client.get("/metrics").text
    assert 'fichas_rate_limited_total{route="/clientes/{id:id}"} 1.0' in metrics


def test_open_endpoints_are_limited_per_client_address(
    app_and_tokens: tuple[TestClient, str, str],
) -> None:
    client, _, _ = app_and_tokens
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/health").status_code == 200  # its own, larger budget


def test_the_proxys_own_health_checks_are_never_limited(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit_root="2/minute", rate_limit_health="2/minute")
    migrated_engine(settings).dispose()
    # From 127.0.0.1, a trusted proxy by default: as Caddy checks each instance every second.
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as proxy:
        for path in ("/ready", "/health"):
            assert [proxy.get(path).status_code for _ in range(5)] == [200] * 5
        # What it passes on is the PC's request, limited by the PC's address.
        pc = {"X-Forwarded-For": "10.1.2.3"}
        assert [proxy.get("/ready", headers=pc).status_code for _ in range(3)] == [200, 200, 429]


def test_in_memory_a_window_opens_at_the_first_hit_and_ends_after_the_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(1000.0).install(monkeypatch, ratelimit)
    limiter = RateLimiter({"read": "2/minute"}, build_metrics("test"))

    async def scenario() -> None:
        assert [(await limiter.check("read", "key:1")).allowed for _ in range(2)] == [True, True]
        clock.now = 1030.0
        refused = await limiter.check("read", "key:1")
        assert (refused.allowed, refused.remaining, refused.reset_in) == (False, 0, 30)
        assert (await limiter.check("read", "key:2")).allowed  # another key, its own window
        clock.now = 1060.5  # key:1's window is over
        assert (await limiter.check("read", "key:1")).allowed

    asyncio.run(scenario())


def test_in_memory_a_hit_is_a_lookup_and_ended_windows_are_swept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(1000.0).install(monkeypatch, ratelimit)
    memory = InstanceMemory()

    async def scenario() -> tuple[int, int]:
        for n in range(2000):  # a thousand PCs' keys, two route classes each
            await memory.incr(f"key:{n}", 60)
        await asyncio.sleep(0)  # as between requests: the loop runs what was scheduled
        tasks = len(asyncio.all_tasks())
        await memory.incr("key:0", 60)
        started = len(asyncio.all_tasks()) - tasks  # limits' own MemoryStorage starts one
        clock.now = 1061.0
        await memory.incr("key:new", 60)  # the first hit past a second sweeps the ended windows
        return started, await memory.reset()

    assert asyncio.run(scenario()) == (0, 1)


def test_route_classes_with_equal_limits_count_apart() -> None:
    limiter = RateLimiter({"read": "2/minute", "write": "2/minute"}, build_metrics("test"))

    async def scenario() -> list[bool]:
        return [(await limiter.check(c, "key:1")).allowed for c in ("read",) * 3 + ("write",)]

    assert asyncio.run(scenario()) == [True, True, False, True]


def test_instances_sharing_redis_never_pass_the_budget_together(tmp_path: Path) -> None:
    # Large budgets are leased ten requests at a time: never more than the budget in all, and
    # at most a lease's worth left unused per instance.
    async def scenario(url: str) -> int:
        metrics = build_metrics("test")
        pools = [redis_pool(url, timeout=1.0) for _ in range(2)]
        instances = [RateLimiter({"read": "1000/minute"}, metrics, (p, _breaker())) for p in pools]
        allowed = 0
        for n in range(1100):
            allowed += (await instances[n % 2].check("read", "key:7")).allowed
        for pool in pools:
            await pool.aclose()
        return allowed

    def _breaker() -> Breaker:
        return redis_breaker(build_metrics("test"), threshold=5, cooldown=5)

    with redis_server(tmp_path) as redis:
        allowed = asyncio.run(scenario(redis.url))
    assert 1000 - 2 * 9 <= allowed <= 1000
