"""Pure ASGI middleware that every request passes through."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import Problem, problem_response

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestIdMiddleware:
    """Tags each request with an id (the proxy's ``X-Request-ID`` if sane, else a new one),
    echoed in the response and in every problem body, so a report can be found in the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = Request(scope).headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope["fichas.request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
        return None


class DeclaredBodyLimitMiddleware:
    """Refuses a declared Content-Length over the limit before anything reads the body.

    Starlette's own limit (``max_body_size``) covers bodies as they stream in; this covers the
    requests whose handler never reads the body, which Starlette would answer in plain text.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                problem = Problem(
                    413,
                    "content-too-large",
                    "Request body too large",
                    f"the body may be at most {self.max_body_bytes} bytes",
                )
                return await problem_response(request, problem)(scope, receive, send)
        await self.app(scope, receive, send)
        return None
