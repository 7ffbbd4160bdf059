"""Request targets a client cannot turn into an exception: path parameters and query strings.

Starlette's ``int`` convertor matches any run of digits and then calls ``int()``, which raises
past 4,300 digits (Python's guard against quadratic conversions): an unhandled error, a 500, and
the proxy ejecting the instance. Ids are matched here by a bounded pattern instead, so a path
whose id cannot exist simply matches no route (404) and conversion never sees a long string.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    # Ten ASCII digits hold every id (MAX_ID is 2**31 - 1); values above MAX_ID that still fit
    # are answered 404 by ``Call.path_id``. ``[0-9]``, not ``\d``, which matches any Unicode digit.
    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


# Starlette's registry is global; routes name this convertor as ``{id:id}``.
register_url_convertor("id", IdConvertor())


_NON_ASCII = re.compile(rb"[^\x00-\x7f]")


def ascii_query(query: bytes) -> bytes:
    """The query string with its raw non-ASCII bytes percent-escaped.

    HTTP/1.1 (h11) admits only ASCII targets, but HTTP/2 (h2c, straight to an instance) passes
    raw bytes on, and Starlette's ``request.url`` decodes them as strict UTF-8: it raised wherever
    the URL is read (problem bodies, cache keys), a 500. Escaped, they read as a careful client
    would have sent them (undecodable bytes become U+FFFD in the parameters, as before)."""
    if query.isascii():  # always so over HTTP/1.1: one cheap test
        return query
    return _NON_ASCII.sub(lambda byte: b"%%%02X" % byte[0][0], query)
