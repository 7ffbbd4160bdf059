"""API keys: queries and writes. Only hashes are stored; the token is shown once, at creation."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.data.common import Row, fetch_page, first_dict, get_by_id, keyset, now, unique_or_conflict
from api.db.tables import api_keys
from api.domain.errors import Conflict

_BY_PREFIX = sa.select(api_keys).where(api_keys.c.prefixo == sa.bindparam("prefixo"))
_BY_NAME = sa.select(api_keys).where(api_keys.c.nome == sa.bindparam("nome"))
_PAGE = keyset(sa.select(api_keys), api_keys)


def create(conn: Connection, *, nome: str, prefixo: str, hash_: str, escopos: list[str]) -> Row:
    with unique_or_conflict(api_keys.c.nome, f"a key named {nome!r} already exists"):
        new_id = conn.execute(
            sa.insert(api_keys).returning(api_keys.c.id),
            {
                "nome": nome,
                "prefixo": prefixo,
                "hash": hash_,
                "escopos": ",".join(sorted(escopos)),
                "criado_em": now(),
            },
        ).scalar_one()
    return get(conn, new_id)


def get(conn: Connection, key_id: int) -> Row:
    return get_by_id(conn, api_keys, "key", key_id)


def by_prefix(conn: Connection, prefixo: str) -> Row | None:
    return first_dict(conn.execute(_BY_PREFIX, {"prefixo": prefixo}))


def by_name(conn: Connection, nome: str) -> Row | None:
    return first_dict(conn.execute(_BY_NAME, {"nome": nome}))


def page(conn: Connection, *, after: int, limit: int) -> tuple[list[Row], int | None]:
    return fetch_page(conn, _PAGE, {}, after, limit)


def count_active(conn: Connection) -> int:
    query = sa.select(sa.func.count()).select_from(api_keys).where(api_keys.c.revogado_em.is_(None))
    return conn.execute(query).scalar_one()


def revoke(conn: Connection, key_id: int) -> Row:
    key = get(conn, key_id)
    if key["revogado_em"] is not None:
        raise Conflict(f"key {key_id} is already revoked")
    conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(revogado_em=now()))
    return get(conn, key_id)
