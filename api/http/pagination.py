"""Opaque cursors for keyset pagination (clients must not build or parse them).

A cursor is the last id of a page as four big-endian bytes, base64url without padding: six
characters, the last of which holds two bits of data and four zero bits (hence ``[AQgw]``). That
shape is exact — every string matching ``CURSOR_PATTERN`` (``api.schemas.common``) decodes to a
position — so the OpenAPI document states precisely what is accepted, and nothing that matches it
is refused. A position past every id (above ``MAX_ID``) is simply the end: an empty page.
"""

from __future__ import annotations

import base64

from api.schemas.common import MAX_ID


def encode_cursor(last_id: int | None) -> str | None:
    if last_id is None:
        return None
    return base64.urlsafe_b64encode(last_id.to_bytes(4, "big")).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id a page starts after (0 for the first page). ``cursor`` was validated against
    ``CURSOR_PATTERN`` with the query, so it always decodes."""
    if not cursor:
        return 0
    after = int.from_bytes(base64.urlsafe_b64decode(cursor + "=="), "big")
    return min(after, MAX_ID)  # beyond every id; the databases take no larger parameter
