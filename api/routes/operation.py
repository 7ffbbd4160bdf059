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

from api.http.context import ANONYMOUS, Call, Services

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

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def route(self) -> Route:
        scope, handler = self.scope, self.handler

        async def endpoint(request: Request) -> Response:
            services: Services = request.app.state.services
            principal = (
                ANONYMOUS if scope is None else await services.auth.principal(request, scope)
            )
            return await handler(Call(request, principal, services))

        return Route(self.path, endpoint, methods=[self.method], name=self.operation_id)
