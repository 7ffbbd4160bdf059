"""Clientes: queries and writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from api.data.common import Row, fetch_page, get_by_id, now, unique_or_conflict
from api.db.tables import clientes, pedidos
from api.domain.errors import Conflict

_DUPLICATE = "another cliente already has this documento"


def get(conn: Connection, cliente_id: int, *, for_update: bool = False) -> Row:
    return get_by_id(conn, clientes, "cliente", cliente_id, for_update=for_update)


def page(
    conn: Connection, *, after: int, limit: int, q: str | None = None, cidade: str | None = None
) -> tuple[list[Row], int | None]:
    query = select(clientes)
    if q:
        pattern = f"%{q}%"
        digits = "".join(ch for ch in q if ch.isdigit())
        matches: list[ColumnElement[bool]] = [
            clientes.c.nome.ilike(pattern),
            clientes.c.email.ilike(pattern),
        ]
        if digits:
            matches.append(clientes.c.documento.contains(digits, autoescape=True))
        query = query.where(or_(*matches))
    if cidade:
        query = query.where(clientes.c.cidade.ilike(cidade))
    return fetch_page(conn, query, clientes, after, limit)


def create(conn: Connection, values: dict[str, Any]) -> Row:
    stamp = now()
    row = {**values, "criado_em": stamp, "atualizado_em": stamp}
    with unique_or_conflict(clientes.c.documento, _DUPLICATE):
        new_id = conn.execute(insert(clientes).returning(clientes.c.id), row).scalar_one()
    return get(conn, new_id)


def update_(conn: Connection, cliente_id: int, changes: dict[str, Any]) -> Row:
    with unique_or_conflict(clientes.c.documento, _DUPLICATE):
        conn.execute(
            update(clientes)
            .where(clientes.c.id == cliente_id)
            .values(**changes, atualizado_em=now())
        )
    return get(conn, cliente_id)


def delete_(conn: Connection, cliente_id: int) -> None:
    if conn.execute(select(exists().where(pedidos.c.cliente_id == cliente_id))).scalar():
        raise Conflict(f"cliente {cliente_id} has pedidos and cannot be deleted")
    conn.execute(delete(clientes).where(clientes.c.id == cliente_id))
