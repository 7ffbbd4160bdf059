"""The application factory: everything an instance needs, built from one Settings object."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth.guard import Authenticator
from api.auth.revocations import Revocations
from api.cache.local import LocalStore
from api.cache.responses import ResponseCache
from api.cache.store import RedisStore, redis_breaker, redis_pool
from api.data.idempotency_pruning import keep_pruning
from api.db.engine import build_engine, threads, write_lock
from api.db.gateway import Database, DatabaseUnavailable
from api.db.guards import database_guards
from api.db.migrate import ensure_current
from api.domain.errors import DomainError
from api.http.middleware import (
    BodyLimitMiddleware,
    ForwardedForMiddleware,
    RequestIdMiddleware,
)
from api.http.problems import (
    Problem,
    handle_domain_error,
    handle_http_exception,
    handle_problem,
    handle_unexpected,
    problem_response,
)
from api.openapi import openapi_json
from api.resilience.ratelimit import RateLimiter
from api.resilience.shedding import LoadShedMiddleware
from api.routes.context import Services
from api.routes.operation import build_routes
from api.routes.table import all_operations
from fichas.settings import Settings
from observability.metrics import build_metrics, metrics_response
from observability.requests import ObservedRequestsMiddleware
from observability.tracing import RequestSpans, trace_redis, trace_statements, tracer_provider


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DatabaseUnavailable)
    problem = Problem(
        503,
        "database-unavailable",
        "The database cannot answer now",
        f"{exc}; try again shortly (a write that timed out may still have been applied: "
        "retry it with the same Idempotency-Key)",
        headers={"Retry-After": str(math.ceil(exc.retry_after))},
    )
    return problem_response(request, problem)


def create_app(settings: Settings) -> Starlette:
    operations = all_operations()
    engine = build_engine(settings)
    read_threads, write_threads = threads(settings)
    metrics = build_metrics(settings.instance)
    db = Database(
        engine,
        read_threads=read_threads,
        write_threads=write_threads,
        guards=database_guards(settings, metrics),
        durations=metrics.database_duration,
        write_lock=write_lock(settings),
    )

    async def serve_metrics(request: Request) -> Response:
        # Not in the operation table: an internal endpoint, off the public contract, and
        # off the public listener (the proxy refuses /metrics).
        return metrics_response(request, metrics)

    pool, store, redis = None, None, None
    if settings.redis_url:
        pool = redis_pool(settings.redis_url, settings.redis_timeout_ms / 1000)
        breaker = redis_breaker(
            metrics, settings.breaker_threshold, settings.breaker_cooldown_seconds
        )
        store, redis = RedisStore(pool, breaker, metrics), (pool, breaker)
    limits = RateLimiter(settings.rate_limits, metrics, redis)
    revocations = Revocations(store)
    tracing = tracer_provider(settings.instance)
    spans = None
    if tracing is not None:
        spans = RequestSpans(tracing)
        trace_statements(engine, spans.tracer)
        clients = [limits.redis_client, store.client if store else None]
        for client in filter(None, clients):
            trace_redis(client, tracing)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ensure_current(engine)
        pruning = asyncio.create_task(
            keep_pruning(db, settings.idempotency_ttl, metrics.idempotency_records)
        )
        try:
            async with revocations.watching():
                yield
        finally:
            pruning.cancel()
            with suppress(asyncio.CancelledError):
                await pruning
            if pool is not None:
                await pool.aclose()
            db.close()
            if tracing is not None:
                tracing.shutdown()  # sends the spans still waiting in the batch

    app = Starlette(
        routes=[*build_routes(operations), Route("/metrics", serve_metrics, methods=["GET"])],
        middleware=[
            Middleware(ForwardedForMiddleware, trusted=settings.trusted_proxies),
            Middleware(
                RequestIdMiddleware,
                instance=settings.instance if settings.debug_headers else None,
            ),
            Middleware(
                ObservedRequestsMiddleware,
                metrics=metrics if settings.request_metrics else None,
                spans=spans,
            ),
            Middleware(
                LoadShedMiddleware,
                metrics=metrics,
                limit=settings.max_in_flight,
                timeout=settings.request_timeout_seconds,
            ),
            Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes),
        ],
        exception_handlers={
            Problem: handle_problem,
            DomainError: handle_domain_error,
            DatabaseUnavailable: handle_database_unavailable,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    # Starlette answers /clientes/ with a redirect to http://<Host header>/clientes: an absolute
    # URL built from what the client claims (an open redirect, and a cache-poisoning lever).
    # No client of this API needs the slash forgiven; it is a 404 like any unknown path.
    app.router.redirect_slashes = False
    app.state.services = Services(
        settings=settings,
        db=db,
        auth=Authenticator(db, settings.auth_cache_seconds, revocations, limits),
        zone=ZoneInfo(settings.timezone),
        metrics=metrics,
        cache=ResponseCache(
            store or LocalStore(db, settings.cache_ttl_seconds), settings.cache_ttl_seconds, metrics
        ),
        limits=limits,
    )
    app.state.openapi = openapi_json()
    return app
