"""Every request observed once: counted and timed for the metrics — by method and route
*template* (``/clientes/{id:id}``, never ``/clientes/7``), so the number of series stays
bounded whatever paths clients invent: those that match no route share one label — written to
the access log (one JSON line, replacing Hypercorn's), and, when tracing is on, traced: a server
span parented on the caller's ``traceparent``, whose trace id the log line and the latency
histogram's exemplar carry, so a slow bucket leads to its trace."""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager, nullcontext

from opentelemetry.trace import Span, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.logs import ACCESS, access
from observability.metrics import Metrics
from observability.tracing import RequestSpans

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Asked of every instance every second by the proxy's health checks, the supervisor and
# Prometheus: logged at debug when one of them asks (directly, not forwarded for a client), so
# that an idle cluster's log is quiet; counted in the metrics like every request.
PROBES = frozenset({"/health", "/ready", "/metrics"})
UNMATCHED = "unmatched"
CLIENT_CLOSED_REQUEST = 499  # api/http/middleware.py: a body the client abandoned


class ObservedRequestsMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: Metrics | None, spans: RequestSpans | None = None
    ) -> None:
        """``metrics`` None: requests are logged and traced, not counted (to measure the cost);
        ``spans`` None: not traced."""
        self.app = app
        self.metrics = metrics
        self.spans = spans
        # (method, route, status) -> its counter and its histogram: prometheus_client's
        # labels() takes a lock and checks its arguments on every call. Bounded like the
        # series themselves (route templates, not paths).
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"] if scope["method"] in METHODS else "other"
        with self._span(scope, method) as span:
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                template = getattr(scope.get("route"), "path", UNMATCHED)
                seconds = time.perf_counter() - started
                exemplar = None
                if span is not None:
                    exemplar = _named(span, method, template, status)
                if self.metrics is not None:
                    count, duration = self._series_of(self.metrics, method, template, status)
                    count.inc()
                    # A client that left mid-body (499) got no answer to time: how long it
                    # took to go away is its own pace, kept out of the latency histogram.
                    if status != CLIENT_CLOSED_REQUEST:
                        duration.observe(seconds, exemplar)
                level = logging.DEBUG if _internal_probe(scope) else logging.INFO
                if ACCESS.isEnabledFor(level):
                    access(
                        level,
                        f"{method} {template} {status}",
                        {
                            "request_id": scope.get("fichas.request_id"),
                            "method": scope["method"],
                            "route": template,
                            "path": scope["path"],
                            "status": status,
                            "duration_ms": round(seconds * 1000, 2),
                            "key": scope.get("fichas.key"),
                        },
                    )
        return None

    def _series_of(
        self, metrics: Metrics, method: str, template: str, status: int
    ) -> tuple[Counter, Histogram]:
        key = (method, template, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                metrics.requests.labels(method, template, str(status)),
                metrics.request_duration.labels(method, template),
            )
        return series

    def _span(self, scope: Scope, method: str) -> AbstractContextManager[Span | None]:
        return nullcontext() if self.spans is None else self.spans.current(scope, method)


def _internal_probe(scope: Scope) -> bool:
    """A probe path asked directly, not through the proxy on a client's behalf (the proxy adds
    X-Forwarded-For to what it forwards; its own health checks carry none)."""
    return scope["path"] in PROBES and not any(
        name == b"x-forwarded-for" for name, _ in scope["headers"]
    )


def _named(span: Span, method: str, template: str, status: int) -> dict[str, str] | None:
    """Name the finished request's span after its route; the exemplar linking to it, if sampled."""
    if not span.is_recording():
        return None
    span.update_name(f"{method} {template}")
    span.set_attribute("http.route", template)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    return {"trace_id": format(span.get_span_context().trace_id, "032x")}
