"""Two real instances sharing one Redis of the test's own: a key's limit is one budget on every
instance; when Redis dies, each instance limits in its own memory (counted) and serves on."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx2

from api.settings import Settings
from loadtest.target import redis_server
from tests.support import assert_problem, make_token, metric, migrated_engine, running_server


def test_one_budget_across_instances_and_a_local_one_without_redis(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = migrated_engine(settings)
    mine, theirs = (make_token(engine, f"pc-{n}", ["read", "write"]) for n in (1, 2))
    engine.dispose()
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server(tmp_path))
        env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_REDIS_URL": redis.url,
               "FICHAS_RATE_LIMIT_READ": "6/minute", "FICHAS_BREAKER_THRESHOLD": "1",
               "FICHAS_AUTH_CACHE_SECONDS": "300", "FICHAS_LOG_LEVEL": "warning"}  # fmt: skip
        urls = [stack.enter_context(running_server(env, tmp_path / f"{n}.log")) for n in "ab"]

        def client(url: str, token: str) -> httpx2.Client:
            headers = {"Authorization": f"Bearer {token}"}
            return stack.enter_context(httpx2.Client(base_url=url, headers=headers, timeout=30))

        a, b = client(urls[0], mine), client(urls[1], mine)
        statuses = [c.get("/clientes").status_code for c in (a, b, a, b, a, b)]
        assert statuses == [200] * 6
        for over in (a, b):  # the budget is spent on both instances alike
            refused = over.get("/clientes")
            assert_problem(refused, 429, "rate-limited")
            assert refused.headers["ratelimit-policy"] == '"read";q=6;w=60'
            assert refused.headers["retry-after"].isdigit()
        assert client(urls[1], theirs).get("/clientes").status_code == 200  # others unaffected

        redis.kill()
        fresh = client(urls[0], theirs)
        assert [fresh.get("/clientes").status_code for _ in range(3)] == [200] * 3
        assert metric(a.get("/metrics").text, "fichas_rate_limit_fallbacks_total") >= 3
