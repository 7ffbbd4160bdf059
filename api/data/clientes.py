"""Clientes: queries and writes."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.data.common import (
    Row,
    fetch_page,
    get_by_id,
    keyset,
    like_pattern,
    now,
    unique_or_conflict,
)
from api.db.tables import clientes, pedidos
from api.domain.busca import folded
from api.domain.errors import Conflict

_DUPLICATE = "another cliente already has this documento"
_INSERT = sa.insert(clientes).returning(clientes.c.id)
_HAS_PEDIDOS = sa.select(sa.exists().where(pedidos.c.cliente_id == sa.bindparam("ident")))
_DELETE = sa.delete(clientes).where(clientes.c.id == sa.bindparam("ident"))


def with_search_columns(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` to write, with the search column that follows the cidade, if it is among them."""
    if "cidade" not in values:
        return values
    cidade = values["cidade"]
    return {**values, "cidade_busca": None if cidade is None else folded(cidade)}


def get(conn: Connection, cliente_id: int, *, for_update: bool = False) -> Row:
    return get_by_id(conn, clientes, "cliente", cliente_id, for_update=for_update)


@cache
def _page(text: bool, digits: bool, cidade: bool) -> sa.Select[Any]:
    query = sa.select(clientes)
    if text:
        matches: list[sa.ColumnElement[bool]] = [
            clientes.c.nome.ilike(sa.bindparam("text"), escape="\\"),
            clientes.c.email.ilike(sa.bindparam("text"), escape="\\"),
        ]
        if digits:
            matches.append(clientes.c.documento.like(sa.bindparam("digits")))
        query = query.where(sa.or_(*matches))
    if cidade:
        query = query.where(clientes.c.cidade_busca == sa.bindparam("cidade"))
    return keyset(query, clientes)


def page(
    conn: Connection, *, after: int, limit: int, q: str | None = None, cidade: str | None = None
) -> tuple[list[Row], int | None]:
    digits = "".join(ch for ch in q if ch.isdigit()) if q else ""
    params = {
        "text": like_pattern(q) if q else None,
        "digits": f"%{digits}%",
        "cidade": folded(cidade) if cidade else None,
    }
    statement = _page(bool(q), bool(digits), bool(cidade))
    return fetch_page(conn, statement, params, after, limit)


def create(conn: Connection, values: dict[str, Any]) -> Row:
    stamp = now()
    with unique_or_conflict(clientes.c.documento, _DUPLICATE):
        new_id = conn.execute(
            _INSERT, {**with_search_columns(values), "criado_em": stamp, "atualizado_em": stamp}
        ).scalar_one()
    return get(conn, new_id)


def update(conn: Connection, cliente_id: int, changes: dict[str, Any]) -> Row:
    with unique_or_conflict(clientes.c.documento, _DUPLICATE):
        conn.execute(
            sa.update(clientes)
            .where(clientes.c.id == cliente_id)
            .values(**with_search_columns(changes), atualizado_em=now())
        )
    return get(conn, cliente_id)


def delete(conn: Connection, cliente_id: int) -> None:
    if conn.execute(_HAS_PEDIDOS, {"ident": cliente_id}).scalar():
        raise Conflict(f"cliente {cliente_id} has pedidos and cannot be deleted")
    conn.execute(_DELETE, {"ident": cliente_id})
