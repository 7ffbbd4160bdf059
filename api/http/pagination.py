"""Opaque cursors for keyset pagination (clients must not build or parse them)."""

from __future__ import annotations

import base64

from api.domain.errors import Invalid
from api.schemas.common import MAX_ID


def encode_cursor(last_id: int | None) -> str | None:
    if last_id is None:
        return None
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id a page starts after (0 for the first page)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind == "id" and value.isdigit() and int(value) <= MAX_ID:
            return int(value)
    except ValueError:
        pass
    raise Invalid("cursor", "not a cursor this API handed out; use next_cursor as given")
