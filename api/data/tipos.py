"""Tipos de produção: queries and writes."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.data.common import Row, fetch_page, get_by_id, keyset, now, unique_or_conflict
from api.db.tables import tipos_producao

_DUPLICATE = "another tipo de produção already has this codigo"
_INSERT = sa.insert(tipos_producao).returning(tipos_producao.c.id)


def get(conn: Connection, tipo_id: int, *, for_update: bool = False) -> Row:
    return get_by_id(conn, tipos_producao, "tipo de produção", tipo_id, for_update=for_update)


@cache
def _page(ativo: bool) -> sa.Select[Any]:
    query = sa.select(tipos_producao)
    if ativo:
        query = query.where(tipos_producao.c.ativo == sa.bindparam("ativo"))
    return keyset(query, tipos_producao)


def page(
    conn: Connection, *, after: int, limit: int, ativo: bool | None = None
) -> tuple[list[Row], int | None]:
    statement = _page(ativo is not None)
    return fetch_page(conn, statement, {"ativo": ativo}, after, limit)


def create(conn: Connection, values: dict[str, Any]) -> Row:
    stamp = now()
    with unique_or_conflict(tipos_producao.c.codigo, _DUPLICATE):
        new_id = conn.execute(
            _INSERT, {**values, "criado_em": stamp, "atualizado_em": stamp}
        ).scalar_one()
    return get(conn, new_id)


def update(conn: Connection, tipo_id: int, changes: dict[str, Any]) -> Row:
    with unique_or_conflict(tipos_producao.c.codigo, _DUPLICATE):
        conn.execute(
            sa.update(tipos_producao)
            .where(tipos_producao.c.id == tipo_id)
            .values(**changes, atualizado_em=now())
        )
    return get(conn, tipo_id)
