"""Every metric an instance exports, in one place: their names are a contract with the dashboards
and alerts (docs/ARCHITECTURE.md, "Resilience"), so they are declared here and nowhere else.

Each app gets its own registry (tests build many apps in one process), served at ``/metrics``
in the OpenMetrics format when the scraper asks for it (Prometheus does), else in the classic
text format (which ``promtool check metrics`` reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response

BREAKER_STATES = ("closed", "open", "half_open")
# From 1 ms (a cached read) to 10 s (the request deadline), about three buckets per decade.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    build: Info
    requests: Counter
    request_duration: Histogram
    in_flight: Gauge
    database_duration: Histogram
    load_shed: Counter
    timeouts: Counter
    retries: Counter
    breaker_state: Gauge
    breaker_transitions: Counter
    breaker_calls: Counter
    idempotent_replays: Counter
    idempotency_records: Gauge
    cache_requests: Counter
    rate_limited: Counter
    rate_limit_fallbacks: Counter


def build_metrics(instance: str) -> Metrics:
    # No *_created series: they double the series count and no dashboard or alert reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped in the library)
    registry = CollectorRegistry(auto_describe=True)

    def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, namespace="fichas", registry=registry)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, namespace="fichas", registry=registry)

    def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
        return Histogram(
            name, doc, labels, namespace="fichas", registry=registry, buckets=DURATION_BUCKETS
        )

    metrics = Metrics(
        registry=registry,
        build=Info("build", "The running Fichas.", namespace="fichas", registry=registry),
        requests=counter(
            "http_requests",
            "Requests answered, by method, route template and status.",
            ("method", "route", "status"),
        ),
        request_duration=histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route.",
            ("method", "route"),
        ),
        in_flight=gauge("http_requests_in_flight", "Requests this instance is answering now."),
        database_duration=histogram(
            "database_duration_seconds",
            "Time a database call took, waiting for a thread or the lock included, by access.",
            ("access",),
        ),
        load_shed=counter(
            "load_shed", "Requests refused at once (503) because too many were in flight."
        ),
        timeouts=counter("request_timeouts", "Requests answered 504: they took too long."),
        retries=counter(
            "retries",
            "Retries of operations that failed transiently, by how they ended.",
            ("operation", "outcome"),
        ),
        breaker_state=gauge(
            "circuit_breaker_state",
            "1 for the state each circuit breaker is in, 0 for the others.",
            ("breaker", "state"),
        ),
        breaker_transitions=counter(
            "circuit_breaker_transitions",
            "Circuit breaker state changes.",
            ("breaker", "from_state", "to_state"),
        ),
        breaker_calls=counter(
            "circuit_breaker_calls",
            "Calls through a circuit breaker: success, failure, or rejected while open.",
            ("breaker", "outcome"),
        ),
        idempotent_replays=counter(
            "idempotent_replays",
            "POSTs answered from the Idempotency-Key store instead of being applied again.",
        ),
        idempotency_records=gauge(
            "idempotency_records",
            "Stored Idempotency-Key answers, the whole table's (each instance reports the same "
            "count), as of the last pruning round.",
        ),
        cache_requests=counter(
            "cache_requests",
            "Cached reads by result: hit, miss, or bypass (Redis unavailable).",
            ("cache", "result"),
        ),
        rate_limited=counter(
            "rate_limited", "Requests refused (429) for going over a rate limit.", ("route",)
        ),
        rate_limit_fallbacks=counter(
            "rate_limit_fallbacks",
            "Rate-limit checks made in this instance's memory because Redis was unavailable.",
        ),
    )
    metrics.build.info({"version": version("fichas"), "instance": instance})
    return metrics


def metrics_response(request: Request, metrics: Metrics) -> Response:
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(metrics.registry), media_type=content_type)
