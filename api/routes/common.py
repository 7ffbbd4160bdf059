"""The steps that resource routes share: paging a list, and guarded (If-Match) writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict

from sqlalchemy.engine import Connection
from starlette.responses import Response

from api.data.common import Row
from api.http.pagination import decode_cursor, encode_cursor
from api.http.representation import Encoder, json_response, require_match
from api.routes.context import Call
from api.schemas.common import PageQuery


class Window(TypedDict):
    after: int
    limit: int


def page_window(call: Call, query: PageQuery) -> Window:
    """The ``after``/``limit`` arguments of a data-layer page function."""
    return {
        "after": decode_cursor(query.cursor),
        "limit": query.limit or call.services.settings.page_size,
    }


def page_response(
    call: Call,
    encode_page: Encoder,
    page: tuple[list[Row], int | None],
    view: Callable[[Row], Any] = dict,
) -> Response:
    rows, last = page
    body = encode_page({"items": [view(row) for row in rows], "next_cursor": encode_cursor(last)})
    return json_response(call.request, body)


class Getter(Protocol):
    def __call__(self, conn: Connection, ident: int, /, *, for_update: bool = ...) -> Row: ...


def guarded(
    call: Call,
    encode: Callable[[Row], bytes],
    get: Getter,
    change: Callable[[Connection, int], Row],
) -> Callable[[Connection], bytes]:
    """A write transaction on the path's resource: enforce If-Match, if sent, against its
    current representation (read locked), apply ``change`` and return the new representation.
    ``change`` answers 404 itself for a resource that does not exist."""
    ident, if_match = call.path_id(), call.request.headers.get("if-match")

    def transaction(conn: Connection) -> bytes:
        require_match(if_match, lambda: encode(get(conn, ident, for_update=True)))
        return encode(change(conn, ident))

    return transaction
