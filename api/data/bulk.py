"""Bulk loading for demo and benchmark data: many rows per statement, one transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.data.clientes import with_search_columns
from api.db.tables import clientes, contadores, pedido_eventos, pedidos, tipos_producao

MARKER = "demo-data"


def already_loaded(conn: Connection) -> bool:
    return (
        conn.execute(sa.select(contadores.c.valor).where(contadores.c.nome == MARKER)).first()
        is not None
    )


def existing_tipos(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(sa.select(tipos_producao.c.codigo, tipos_producao.c.id)).all())


def insert_tipos(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(tipos_producao), rows)


def insert_clientes(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert clientes whose documento is not taken yet; return the ids of all of them."""
    taken = set(
        conn.execute(
            sa.select(clientes.c.documento).where(clientes.c.documento.is_not(None))
        ).scalars()
    )
    fresh = [r for r in rows if r["documento"] not in taken]
    if fresh:
        conn.execute(sa.insert(clientes), [with_search_columns(r) for r in fresh])
    documentos = [r["documento"] for r in rows]
    ids = conn.execute(
        sa.select(clientes.c.id).where(clientes.c.documento.in_(documentos))
    ).scalars()
    return list(ids)


def insert_pedidos(
    conn: Connection, rows: list[dict[str, Any]], history: list[list[dict[str, Any]]]
) -> None:
    """Insert pedidos with gap-free numeros and their eventos (``history[i]`` for ``rows[i]``)."""
    last = conn.execute(
        sa.update(contadores)
        .where(contadores.c.nome == "pedidos")
        .values(valor=contadores.c.valor + len(rows))
        .returning(contadores.c.valor)
    ).scalar_one()
    first = last - len(rows) + 1
    numbered = [{**row, "numero": first + i} for i, row in enumerate(rows)]
    for start in range(0, len(numbered), 1000):
        chunk = numbered[start : start + 1000]
        conn.execute(sa.insert(pedidos), chunk)
    ids = dict(
        conn.execute(
            sa.select(pedidos.c.numero, pedidos.c.id).where(pedidos.c.numero >= first)
        ).all()
    )
    eventos = [
        {**evento, "pedido_id": ids[first + i]}
        for i, events in enumerate(history)
        for evento in events
    ]
    for start in range(0, len(eventos), 2000):
        conn.execute(sa.insert(pedido_eventos), eventos[start : start + 2000])
    conn.execute(sa.insert(contadores).values(nome=MARKER, valor=len(rows)))
