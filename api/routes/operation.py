"""An operation is a route plus everything the OpenAPI document says about it.

Declaring both in one place keeps the served contract and the code from drifting apart: the
router and ``/openapi.json`` are built from the same list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.auth.guard import client_address
from api.cache.responses import FAMILIES
from api.http import paths  # noqa: F401  (registers the ``id`` convertor the paths name)
from api.http.middleware import FROM_PROXY
from api.routes.context import ANONYMOUS, Call, Services

Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    scope: str | None = None  # None: no key needed
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: Any = None  # shape of the success body; None: no body
    status: int = 200
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()  # domain errors beyond those implied by the fields above
    conditional: bool = False  # honours If-Match
    idempotent: bool = False  # honours Idempotency-Key
    secret: bool = False  # the answer holds a secret: not cached or stored; Idempotency-Key refused
    cached: str | None = None  # GET answers cached in Redis, in this family (api/cache)
    invalidates: str | None = None  # a success changes this cached family

    def __post_init__(self) -> None:
        # A family the cache does not know would never be bumped by ``fichas restore``.
        for family in (self.cached, self.invalidates):
            if family is not None and family not in FAMILIES:
                raise ValueError(f"{self.path}: unknown cached family {family!r}")

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def rate_class(self) -> str:
        """Which rate limit applies: per client address for the open service endpoints (``/``
        and ``/health`` each their own), per key and scope for the rest."""
        if self.path == "/health":
            return "health"
        return self.scope or "root"

    async def __call__(self, request: Request) -> Response:
        services: Services = request.app.state.services
        principal = ANONYMOUS
        if self.scope is not None:
            principal = await services.auth.principal(request, self.scope, self.path)
            request.scope["fichas.key"] = principal.nome  # for the access log
        # The proxy's health checks are never limited: they decide which instances serve, and
        # one front host checking every instance each second, counted per address (shared in
        # Redis), went over the limit and took them all out of the rotation at once.
        if self.scope is not None or FROM_PROXY not in request.scope:
            address = client_address(request)
            who = f"key:{principal.id}" if self.scope else f"ip:{address}"
            verdict = await services.limits.check(self.rate_class, who)
            if not verdict.allowed:
                per = f"API key {principal.nome!r}" if self.scope else f"address {address}"
                raise services.limits.refuse(self.rate_class, verdict, self.path, per)
        call = Call(request, principal, services)
        if self.cached and request.method == "GET":
            return await services.cache.serve(request, self.cached, lambda: self.handler(call))
        response = await self.handler(call)
        if self.invalidates and response.status_code < 300:
            await services.cache.invalidate(self.invalidates)
        return response


def build_routes(operations: list[Operation]) -> list[Route]:
    """One Starlette route per path, dispatching on the method, so that a 405 names (in
    ``Allow``) every method the path has, not only those of one operation."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op
    routes = []
    for path, by_method in by_path.items():
        if "GET" in by_method:
            by_method["HEAD"] = by_method["GET"]
        routes.append(Route(path, _PathEndpoint(by_method), methods=list(by_method)))
    return routes


class _PathEndpoint:
    """The operations of one path, as a plain ASGI app. Not a function: Starlette would wrap one
    in ``request_response``, whose own exception layer repeats the app's (the app's catches
    whatever an operation raises, through the same handlers) at a cost on every request."""

    def __init__(self, by_method: dict[str, Operation]) -> None:
        self.by_method = by_method

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self.by_method[request.method](request)
        await response(scope, receive, send)
