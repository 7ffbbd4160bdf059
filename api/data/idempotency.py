"""Stored responses of POSTs that carried an Idempotency-Key, scoped to the API key."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Integer, bindparam, delete, func, insert, select
from sqlalchemy.engine import Connection

from api.data.common import now
from api.db.tables import idempotency_keys


class StoredResponse(NamedTuple):
    fingerprint: str
    status: int
    body: bytes
    location: str | None


_t = idempotency_keys
_FIND = select(
    _t.c.id, _t.c.impressao, _t.c.status, _t.c.corpo, _t.c.location, _t.c.criado_em
).where(_t.c.api_key_id == bindparam("api_key_id"), _t.c.chave == bindparam("chave"))
_FORGET = delete(_t).where(_t.c.id == bindparam("ident"))
_STORE = insert(idempotency_keys)
_EXPIRED = (
    select(_t.c.id)
    .where(_t.c.criado_em < bindparam("before"))
    .order_by(_t.c.criado_em)
    .limit(bindparam("limit", type_=Integer))
)
_DELETE_EXPIRED = delete(_t).where(_t.c.id.in_(_EXPIRED))
_COUNT = select(func.count()).select_from(_t)


def find(
    conn: Connection, api_key_id: int, key: str, not_before: datetime
) -> StoredResponse | None:
    """The response stored for ``key``, unless it was stored before ``not_before``: an expired
    one is deleted here (the pruner may not have come by yet), so that the key is free again."""
    row = conn.execute(_FIND, {"api_key_id": api_key_id, "chave": key}).first()
    if row is None:
        return None
    if row.criado_em < not_before:
        conn.execute(_FORGET, {"ident": row.id})
        return None
    return StoredResponse(row.impressao, row.status, row.corpo, row.location)


def store(conn: Connection, api_key_id: int, key: str, response: StoredResponse) -> None:
    conn.execute(
        _STORE,
        {
            "api_key_id": api_key_id,
            "chave": key,
            "impressao": response.fingerprint,
            "status": response.status,
            "corpo": response.body,
            "location": response.location,
            "criado_em": now(),
        },
    )


def delete_expired(conn: Connection, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` responses stored before ``before``, oldest first; how many."""
    return conn.execute(_DELETE_EXPIRED, {"before": before, "limit": limit}).rowcount


def count(conn: Connection) -> int:
    return int(conn.execute(_COUNT).scalar_one())
