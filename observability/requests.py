"""Every request observed once: counted and timed for the metrics — by method and route
*template* (``/clientes/{id:int}``, never ``/clientes/7``), so the number of series stays
bounded whatever paths clients invent: those that match no route share one label — and written
to the access log (one JSON line, replacing Hypercorn's)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.logs import ACCESS
from observability.metrics import Metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED)
            method = scope["method"] if scope["method"] in METHODS else "other"
            seconds = time.perf_counter() - started
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.request_duration.labels(method, template).observe(seconds)
            if ACCESS.isEnabledFor(logging.INFO):
                ACCESS.info(
                    "%s %s %d",
                    method,
                    template,
                    status,
                    extra={
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
