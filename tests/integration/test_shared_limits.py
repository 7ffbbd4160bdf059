"""Two real instances sharing one Redis of the test's own: a key's limit, and an address's
failed authentications, are one budget on every instance; when Redis dies, each instance limits
in its own memory (counted, and said in the 429) and serves on."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx2

from fichas.settings import Settings
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
               "FICHAS_RATE_LIMIT_AUTH_FAILURES": "3/minute",
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
            body = assert_problem(refused, 429, "rate-limited")
            assert "per API key 'pc-1', counted across every instance" in body["detail"]
            assert refused.headers["ratelimit-policy"] == '"read";q=6;w=60'
            assert refused.headers["retry-after"].isdigit()
        assert client(urls[1], theirs).get("/clientes").status_code == 200  # others unaffected

        # Failed authentications from one address are one budget too, wherever they land.
        guess = {"Authorization": "Bearer fichas_x_y"}
        assert [c.get("/clientes", headers=guess).status_code for c in (a, b, a)] == [401] * 3
        for over in (b, a):
            assert_problem(over.get("/clientes", headers=guess), 429, "rate-limited")

        redis.kill()
        fresh = client(urls[0], theirs)
        assert [fresh.get("/clientes").status_code for _ in range(6)] == [200] * 6
        body = assert_problem(fresh.get("/clientes"), 429, "rate-limited")
        assert "per API key 'pc-2', counted by this instance alone" in body["detail"]
        assert metric(a.get("/metrics").text, "fichas_rate_limit_fallbacks_total") >= 3
