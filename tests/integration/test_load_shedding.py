"""A real instance under more concurrent requests than it admits: the rest are refused at once
with 503 + Retry-After, and the ones it admitted are not slowed by a queue behind them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx2

from fichas.settings import Settings
from tests.support import assert_problem, make_token, migrated_engine, running_server

BOUND, CONCURRENT = 4, 64


def test_beyond_the_bound_requests_are_refused_fast(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = migrated_engine(settings)
    token = make_token(engine, "pc-shed", ["read", "write"])
    engine.dispose()
    env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_MAX_IN_FLIGHT": str(BOUND),
           "FICHAS_AUTH_CACHE_SECONDS": "300", "FICHAS_LOG_LEVEL": "warning"}  # fmt: skip

    async def wave(url: str) -> list[tuple[int, float, httpx2.Response]]:
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx2.Limits(max_connections=CONCURRENT)
        async with httpx2.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
            await client.get("/clientes")  # connections and key warm

            async def one(n: int) -> tuple[int, float, httpx2.Response]:
                # A write: it waits for the database thread, so requests pile up in flight.
                started = time.monotonic()
                response = await client.post("/clientes", json={"nome": f"Cliente {n}"})
                return response.status_code, time.monotonic() - started, response

            return list(await asyncio.gather(*(one(n) for n in range(CONCURRENT))))

    with running_server(env, tmp_path / "server.log") as url:
        answers = asyncio.run(wave(url))
        metrics = httpx2.get(f"{url}/metrics").text
    admitted = sorted(seconds for status, seconds, _ in answers if status == 201)
    refused = [(seconds, response) for status, seconds, response in answers if status == 503]
    assert len(admitted) + len(refused) == CONCURRENT
    assert admitted, "some requests must get through"
    assert refused, "the bound must refuse some of so many at once"
    for _, response in refused:
        assert_problem(response, 503, "overloaded")
        assert response.headers["retry-after"] == "1"
    assert f"fichas_load_shed_total {float(len(refused))}" in metrics
    # No queue: the slowest admitted request took about as long as a few in a row, not 64.
    assert admitted[-1] < 2.0, admitted
