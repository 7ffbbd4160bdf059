"""Clientes: queries and writes."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

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
_INSERT = insert(clientes).returning(clientes.c.id)
_HAS_PEDIDOS = select(exists().where(pedidos.c.cliente_id == bindparam("ident")))
_DELETE = delete(clientes).where(clientes.c.id == bindparam("ident"))


def with_search_columns(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` to write, with the search column that follows the cidade, if it is among them."""
    if "cidade" not in values:
        return values
    cidade = values["cidade"]
    return {**values, "cidade_busca": None if cidade is None else folded(cidade)}


def get(conn: Connection, cliente_id: int, *, for_update: bool = False) -> Row:
    return get_by_id(conn, clientes, "cliente", cliente_id, for_update=for_update)


@cache
def _page(text: bool, digits: bool, cidade: bool) -> Select[Any]:
    query = select(clientes)
    if text:
        matches: list[ColumnElement[bool]] = [
            clientes.c.nome.ilike(bindparam("text"), escape="\\"),
            clientes.c.email.ilike(bindparam("text"), escape="\\"),
        ]
        if digits:
            matches.append(clientes.c.documento.like(bindparam("digits")))
        query = query.where(or_(*matches))
    if cidade:
        query = query.where(clientes.c.cidade_busca == bindparam("cidade"))
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


def update_(conn: Connection, cliente_id: int, changes: dict[str, Any]) -> Row:
    with unique_or_conflict(clientes.c.documento, _DUPLICATE):
        conn.execute(
            update(clientes)
            .where(clientes.c.id == cliente_id)
            .values(**with_search_columns(changes), atualizado_em=now())
        )
    return get(conn, cliente_id)


def delete_(conn: Connection, cliente_id: int) -> None:
    if conn.execute(_HAS_PEDIDOS, {"ident": cliente_id}).scalar():
        raise Conflict(f"cliente {cliente_id} has pedidos and cannot be deleted")
    conn.execute(_DELETE, {"ident": cliente_id})
