"""Stored responses of POSTs that carried an Idempotency-Key, scoped to the API key."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.data.common import now
from api.db.tables import idempotency_keys


class StoredResponse(NamedTuple):
    fingerprint: str
    status: int
    body: bytes
    location: str | None


_t = idempotency_keys
_FIND = sa.select(
    _t.c.id, _t.c.fingerprint, _t.c.status, _t.c.body, _t.c.location, _t.c.created_at
).where(_t.c.api_key_id == sa.bindparam("api_key_id"), _t.c.key == sa.bindparam("key"))
_FORGET = sa.delete(_t).where(_t.c.id == sa.bindparam("ident"))
_STORE = sa.insert(idempotency_keys)
_EXPIRED = (
    sa.select(_t.c.id)
    .where(_t.c.created_at < sa.bindparam("before"))
    .order_by(_t.c.created_at)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_DELETE_EXPIRED = sa.delete(_t).where(_t.c.id.in_(_EXPIRED))
_COUNT = sa.select(sa.func.count()).select_from(_t)


def find(
    conn: Connection, api_key_id: int, key: str, not_before: datetime
) -> StoredResponse | None:
    """The response stored for ``key``, unless it was stored before ``not_before``: an expired
    one is deleted here (the pruner may not have come by yet), so that the key is free again."""
    row = conn.execute(_FIND, {"api_key_id": api_key_id, "key": key}).first()
    if row is None:
        return None
    if row.created_at < not_before:
        conn.execute(_FORGET, {"ident": row.id})
        return None
    return StoredResponse(row.fingerprint, row.status, row.body, row.location)


def store(conn: Connection, api_key_id: int, key: str, response: StoredResponse) -> None:
    conn.execute(
        _STORE,
        {
            "api_key_id": api_key_id,
            "key": key,
            "fingerprint": response.fingerprint,
            "status": response.status,
            "body": response.body,
            "location": response.location,
            "created_at": now(),
        },
    )


def delete_expired(conn: Connection, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` responses stored before ``before``, oldest first; how many."""
    return conn.execute(_DELETE_EXPIRED, {"before": before, "limit": limit}).rowcount


def count(conn: Connection) -> int:
    return int(conn.execute(_COUNT).scalar_one())
