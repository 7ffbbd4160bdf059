"""RFC 9457 problem details: the one shape of every 4xx/5xx answer.

Each kind of problem has a stable ``type`` URI (``urn:fichas:problem:<slug>``) that clients can
switch on; ``title`` is fixed per type and ``detail`` explains this occurrence.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.domain.errors import Conflict, DomainError, NotFound, PreconditionFailed

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("fichas.errors")

# status -> (slug, title) for problems raised by Starlette itself (routing, body limit).
_HTTP_PROBLEMS = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Resource not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("content-too-large", "Request body too large"),
}


class Problem(Exception):
    """An error answered to the client as problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self, instance: str, request_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:fichas:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if request_id:
            body["request_id"] = request_id
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def from_domain(error: DomainError) -> Problem:
    detail = str(error)
    match error:
        case NotFound():
            return Problem(404, "not-found", "Resource not found", detail)
        case Conflict():
            return Problem(409, "conflict", "Conflict with the current state", detail)
        case PreconditionFailed():
            return Problem(412, "precondition-failed", "Precondition failed", detail)
    raise TypeError(f"unmapped domain error {error!r}")


def validation_problem(errors: list[dict[str, str]]) -> Problem:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "validation", "Request failed validation", detail, errors=errors)


def problem_response(request: Request, problem: Problem) -> Response:
    request_id = request.scope.get("fichas.request_id")
    headers = dict(problem.headers)
    if request_id:
        # Set here too: a 500 is answered outside the middleware that adds it to the others.
        headers["X-Request-ID"] = request_id
    return Response(
        json.dumps(problem.body(request.url.path, request_id), ensure_ascii=False),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return problem_response(request, from_domain(exc))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    slug, title = _HTTP_PROBLEMS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail
    if exc.status_code == 404:
        detail = f"no route matches {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    problem = Problem(exc.status_code, slug, title, detail, headers=dict(exc.headers or {}))
    return problem_response(request, problem)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log under the request id; the client gets only the id.
    log.exception("unhandled error", extra={"request_id": request.scope.get("fichas.request_id")})
    problem = Problem(
        500,
        "internal",
        "Internal server error",
        "the server failed to answer; quote the request_id when reporting it",
        # Answered outside the middleware that adds it to every other answer.
        headers={"X-Content-Type-Options": "nosniff"},
    )
    return problem_response(request, problem)
