"""Stored responses of POSTs that carried an Idempotency-Key, scoped to the API key."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from api.data.common import now
from api.db.tables import idempotency_keys


class StoredResponse(NamedTuple):
    fingerprint: str
    status: int
    body: bytes
    location: str | None


def find(conn: Connection, api_key_id: int, key: str) -> StoredResponse | None:
    t = idempotency_keys
    row = conn.execute(
        select(t.c.impressao, t.c.status, t.c.corpo, t.c.location).where(
            t.c.api_key_id == api_key_id, t.c.chave == key
        )
    ).first()
    return None if row is None else StoredResponse(*row)


def store(conn: Connection, api_key_id: int, key: str, response: StoredResponse) -> None:
    conn.execute(
        insert(idempotency_keys).values(
            api_key_id=api_key_id,
            chave=key,
            impressao=response.fingerprint,
            status=response.status,
            corpo=response.body,
            location=response.location,
            criado_em=now(),
        )
    )
