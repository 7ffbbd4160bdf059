"""Load shedding and the per-request deadline.

Beyond ``limit`` requests in flight an instance answers 503 with ``Retry-After: 1`` at once: a
queue of requests that will be answered too late helps nobody, while the PC (or the proxy) can
try again or elsewhere. An admitted request that takes longer than ``timeout`` seconds is
answered 504 instead of hanging. Liveness and metrics are exempt, so that an overloaded instance
is not also taken for a dead one.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import Problem, problem_response
from observability.metrics import Metrics

EXEMPT = frozenset({"/health", "/metrics"})


class LoadShedMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, limit: int, timeout: float) -> None:
        self.app = app
        self.metrics = metrics
        self.limit = limit
        self.timeout = timeout
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            self.metrics.load_shed.inc()
            overloaded = Problem(
                503,
                "overloaded",
                "Too many requests in flight",
                f"this instance is answering {self.limit} requests already; try again",
                headers={"Retry-After": "1"},
            )
            return await problem_response(Request(scope), overloaded)(scope, receive, send)
        self.in_flight += 1
        self.metrics.in_flight.inc()
        answering = False

        async def send_noting_start(message: Message) -> None:
            nonlocal answering
            answering = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout) as deadline:
                await self.app(scope, receive, send_noting_start)
        except TimeoutError:
            if not deadline.expired() or answering:
                raise  # not our deadline, or too late to answer anything else
            self.metrics.timeouts.inc()
            late = Problem(
                504,
                "timeout",
                "The request took too long",
                f"no answer within {self.timeout:g} s; a write may still complete, so retry "
                "it with the same Idempotency-Key",
            )
            await problem_response(Request(scope), late)(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
        return None
