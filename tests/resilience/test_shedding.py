"""Beyond the in-flight bound: 503 at once; past the deadline: 504; liveness never shed."""

from __future__ import annotations

import asyncio

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from api.http.middleware import RequestIdMiddleware
from api.resilience.shedding import LoadShedMiddleware
from observability.metrics import Metrics, build_metrics
from tests.support import assert_problem


async def _slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params.get("seconds", "0.3")))
    return PlainTextResponse("done")


def _app(limit: int, timeout: float) -> tuple[ASGIApp, Metrics]:
    """The middleware as the app stacks it: inside the request-id tagging."""
    metrics = build_metrics("test")
    routes = [Route("/work", _slow), Route("/health", _slow)]
    shedding = LoadShedMiddleware(Starlette(routes=routes), metrics, limit, timeout)
    return RequestIdMiddleware(shedding, instance="test"), metrics


def _value(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def _burst(app: ASGIApp, path: str, n: int) -> list[httpx2.Response]:
    async def burst() -> list[httpx2.Response]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://fichas") as client:
            return list(await asyncio.gather(*(client.get(path) for _ in range(n))))

    return asyncio.run(burst())


def test_requests_beyond_the_bound_are_refused_at_once() -> None:
    app, metrics = _app(limit=2, timeout=5)
    answers = _burst(app, "/work", 5)
    assert sorted(r.status_code for r in answers) == [200, 200, 503, 503, 503]
    for refused in (r for r in answers if r.status_code == 503):
        assert_problem(refused, 503, "overloaded")
        assert refused.headers["retry-after"] == "1"
    assert _value(metrics, "fichas_load_shed_total") == 3
    assert _value(metrics, "fichas_http_requests_in_flight") == 0


def test_liveness_is_never_shed() -> None:
    app, metrics = _app(limit=1, timeout=5)
    assert [r.status_code for r in _burst(app, "/health", 4)] == [200] * 4
    assert _value(metrics, "fichas_load_shed_total") == 0


def test_a_request_past_its_deadline_is_answered_504() -> None:
    app, metrics = _app(limit=10, timeout=0.1)
    [late] = _burst(app, "/work?seconds=5", 1)
    body = assert_problem(late, 504, "timeout")
    assert "Idempotency-Key" in body["detail"]
    assert _value(metrics, "fichas_request_timeouts_total") == 1
    assert _value(metrics, "fichas_http_requests_in_flight") == 0
