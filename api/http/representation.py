"""Encoding responses: JSON bytes, ETags and conditional requests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from api.domain.errors import PreconditionFailed


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match (strong comparison, RFC 9110 §13.1.1: a ``W/`` tag never matches)
    or If-None-Match (``weak``, §13.1.2) list names ``etag``, a strong tag; ``*`` names any."""
    candidates = {tag.strip() for tag in header.split(",")}
    if weak:
        candidates = {tag.removeprefix("W/") for tag in candidates}
    return "*" in candidates or etag in candidates


def require_match(if_match: str | None, current_body: Callable[[], bytes]) -> None:
    """Enforce If-Match against the current representation (called inside the write), which
    is only read and encoded when the client sent one: most writes carry none."""
    if if_match is not None and not _matches(if_match, etag_of(current_body()), weak=False):
        raise PreconditionFailed(
            "the resource changed since you read it (If-Match does not match its ETag); "
            "read it again and retry"
        )


class Encoder:
    """Turns response data into JSON bytes with a TypeAdapter built once per shape."""

    def __init__(self, shape: Any) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(shape)

    def __call__(self, data: Any) -> bytes:
        return self._adapter.dump_json(data)


def json_response(
    request: Request, body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response carrying an ETag; answers 304 to a GET whose If-None-Match matches."""
    etag = etag_of(body)
    all_headers = {"ETag": etag, **(headers or {})}
    if request.method == "GET" and _matches(
        request.headers.get("if-none-match", ""), etag, weak=True
    ):
        return Response(status_code=304, headers=all_headers)
    return Response(body, status_code=status, media_type="application/json", headers=all_headers)
