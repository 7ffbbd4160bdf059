"""Stored responses of POSTs that carried an Idempotency-Key, scoped to the API key."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from api.data.common import now
from api.db.tables import idempotency_keys


class StoredResponse(NamedTuple):
    fingerprint: str
    status: int
    body: bytes
    location: str | None


_t = idempotency_keys
_FIND = select(_t.c.impressao, _t.c.status, _t.c.corpo, _t.c.location).where(
    _t.c.api_key_id == bindparam("api_key_id"), _t.c.chave == bindparam("chave")
)
_STORE = insert(idempotency_keys)


def find(conn: Connection, api_key_id: int, key: str) -> StoredResponse | None:
    row = conn.execute(_FIND, {"api_key_id": api_key_id, "chave": key}).first()
    return None if row is None else StoredResponse(*row)


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
