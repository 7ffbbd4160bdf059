"""Two real instances sharing one Redis (of the test's own) and one database: whatever one of
them acknowledges, the other never contradicts from its cache."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx2

from fichas.settings import Settings
from loadtest.target import redis_server
from tests.support import make_token, migrated_engine, running_server

ROUNDS = 1000


def test_a_write_on_one_instance_is_never_read_stale_on_another(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = migrated_engine(settings)
    token = make_token(engine, "pc-cache", ["read", "write"])
    engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server(tmp_path))
        env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_REDIS_URL": redis.url,
               "FICHAS_AUTH_CACHE_SECONDS": "300", "FICHAS_LOG_LEVEL": "warning"}  # fmt: skip
        urls = [stack.enter_context(running_server(env, tmp_path / f"{n}.log")) for n in "ab"]
        a, b = (
            stack.enter_context(httpx2.Client(base_url=url, headers=headers, timeout=30))
            for url in urls
        )
        cliente = a.post("/clientes", json={"nome": "v0", "cidade": "Brusque"}).json()
        one, page = f"/clientes/{cliente['id']}", "/clientes?cidade=Brusque"
        stale = []
        for n in range(1, ROUNDS + 1):
            writer, reader = (a, b) if n % 2 else (b, a)  # both directions
            assert writer.patch(one, json={"nome": f"v{n}"}).status_code == 200
            seen = reader.get(one).json()["nome"], reader.get(page).json()["items"][0]["nome"]
            if seen != (f"v{n}", f"v{n}"):
                stale.append((n, seen))
        assert not stale, stale[:5]
        metrics = a.get("/metrics").text + b.get("/metrics").text
        hits = sum(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('fichas_cache_requests_total{cache="clientes",result="hit"}')
        )
        assert hits == 0  # every read followed a write: nothing cached could be served...
        assert b.get(one).status_code == 200
        assert 'result="hit"} 1.0' in b.get("/metrics").text  # ...until nothing changed
