"""Pedidos and their eventos: queries and writes."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.data.common import Row, fetch_page, get_by_id, keyset, now
from api.db.tables import clientes, contadores, pedido_eventos, pedidos, tipos_producao
from api.domain.errors import Conflict
from api.domain.workflow import FINAL, Status, allowed_next, can_transition

# The filters of GET /pedidos: name -> condition on a bound parameter of the same name.
_FILTERS = {
    "status": pedidos.c.status == sa.bindparam("status"),
    "cliente_id": pedidos.c.cliente_id == sa.bindparam("cliente_id"),
    "tipo_id": pedidos.c.tipo_id == sa.bindparam("tipo_id"),
    "prazo_de": pedidos.c.prazo >= sa.bindparam("prazo_de"),
    "prazo_ate": pedidos.c.prazo <= sa.bindparam("prazo_ate"),
}
_OVERDUE = sa.and_(
    pedidos.c.prazo < sa.bindparam("today"), pedidos.c.status.not_in([s.value for s in FINAL])
)
# What opening a pedido needs to know, in one round trip: does the cliente exist, and is the
# tipo there, active, and how long does it take (NULLs where a row is missing).
_REFERENCES = sa.select(
    sa.select(clientes.c.id)
    .where(clientes.c.id == sa.bindparam("cliente_id"))
    .scalar_subquery()
    .label("cliente"),
    *(
        sa.select(column)
        .where(tipos_producao.c.id == sa.bindparam("tipo_id"))
        .scalar_subquery()
        .label(column.name)
        for column in (tipos_producao.c.ativo, tipos_producao.c.prazo_padrao_dias)
    ),
)
# The UPDATE takes the write lock (SQLite) or the row lock (PostgreSQL) until commit, so
# concurrent inserts from any process queue here and numbers come out unique and gap-free.
_NEXT_NUMERO = (
    sa.update(contadores)
    .where(contadores.c.nome == "pedidos")
    .values(valor=contadores.c.valor + 1)
    .returning(contadores.c.valor)
)
_INSERT = sa.insert(pedidos).returning(pedidos.c.id)
_SET_STATUS = (
    sa.update(pedidos)
    .where(pedidos.c.id == sa.bindparam("ident"))
    .values(status=sa.bindparam("status"), atualizado_em=sa.bindparam("stamp"))
)
_RECORD = sa.insert(pedido_eventos)
_EVENTOS = keyset(
    sa.select(pedido_eventos).where(pedido_eventos.c.pedido_id == sa.bindparam("pedido_id")),
    pedido_eventos,
)


def get(conn: Connection, pedido_id: int, *, for_update: bool = False) -> Row:
    return get_by_id(conn, pedidos, "pedido", pedido_id, for_update=for_update)


@cache
def _page(filters: frozenset[str], atrasado: bool | None) -> sa.Select[Any]:
    query = sa.select(pedidos).where(*(_FILTERS[name] for name in sorted(filters)))
    if atrasado is not None:
        query = query.where(_OVERDUE if atrasado else sa.not_(_OVERDUE))
    return keyset(query, pedidos)


def page(
    conn: Connection,
    /,
    *,
    after: int,
    limit: int,
    today: date,
    atrasado: bool | None = None,
    **filters: Any,
) -> tuple[list[Row], int | None]:
    """Filters: the keys of ``_FILTERS``, each applied when not None, and ``atrasado``."""
    given = {name: value for name, value in filters.items() if value is not None}
    statement = _page(frozenset(given), atrasado)
    return fetch_page(conn, statement, {**given, "today": today}, after, limit)


def create(conn: Connection, values: dict[str, Any], *, by: str, today: date) -> Row:
    found = conn.execute(
        _REFERENCES, {"cliente_id": values["cliente_id"], "tipo_id": values["tipo_id"]}
    ).one()
    if found.cliente is None:
        raise Conflict(f"cliente_id: cliente {values['cliente_id']} does not exist")
    if found.ativo is None:
        raise Conflict(f"tipo_id: tipo de produção {values['tipo_id']} does not exist")
    if not found.ativo:
        raise Conflict(f"tipo_id: tipo de produção {values['tipo_id']} is not active")
    if values.get("prazo") is None:
        values = {**values, "prazo": today + timedelta(days=found.prazo_padrao_dias)}
    stamp = now()
    row = {
        **values,
        "numero": conn.execute(_NEXT_NUMERO).scalar_one(),
        "status": Status.ABERTO.value,
        "criado_em": stamp,
        "atualizado_em": stamp,
    }
    new_id = conn.execute(_INSERT, row).scalar_one()
    _record(conn, new_id, None, Status.ABERTO, by=by, nota=None, stamp=stamp)
    # What a read would return, in column order (so that its ETag matches a later read's).
    created = {**row, "id": new_id}
    return {column.name: created[column.name] for column in pedidos.c}


def update(conn: Connection, pedido_id: int, changes: dict[str, Any]) -> Row:
    current = get(conn, pedido_id, for_update=True)
    if Status(current["status"]) in FINAL:
        raise Conflict(f"pedido {pedido_id} is {current['status']} and can no longer be changed")
    conn.execute(
        sa.update(pedidos).where(pedidos.c.id == pedido_id).values(**changes, atualizado_em=now())
    )
    return get(conn, pedido_id)


def change_status(
    conn: Connection, pedido_id: int, target: Status, *, by: str, nota: str | None
) -> Row:
    current = get(conn, pedido_id, for_update=True)
    status = Status(current["status"])
    if not can_transition(status, target):
        allowed = ", ".join(sorted(allowed_next(status))) or "none (final state)"
        raise Conflict(
            f"pedido {pedido_id} cannot go from {status} to {target}; allowed: {allowed}"
        )
    stamp = now()
    conn.execute(_SET_STATUS, {"ident": pedido_id, "status": target.value, "stamp": stamp})
    _record(conn, pedido_id, status, target, by=by, nota=nota, stamp=stamp)
    return {**current, "status": target.value, "atualizado_em": stamp}


def _record(
    conn: Connection,
    pedido_id: int,
    de: Status | None,
    para: Status,
    *,
    by: str,
    nota: str | None,
    stamp: Any,
) -> None:
    conn.execute(
        _RECORD,
        {
            "pedido_id": pedido_id,
            "de": de.value if de else None,
            "para": para.value,
            "em": stamp,
            "chave": by,
            "nota": nota,
        },
    )


def eventos_page(
    conn: Connection, pedido_id: int, *, after: int, limit: int
) -> tuple[list[Row], int | None]:
    get(conn, pedido_id)
    return fetch_page(conn, _EVENTOS, {"pedido_id": pedido_id}, after, limit)
