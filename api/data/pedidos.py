"""Pedidos and their eventos: queries and writes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, insert, not_, select, update
from sqlalchemy.engine import Connection

from api.data.common import Row, fetch_page, get_by_id, now
from api.db.tables import clientes, contadores, pedido_eventos, pedidos, tipos_producao
from api.domain.errors import Conflict, Invalid
from api.domain.workflow import FINAL, Status, allowed_next, can_transition


def get(conn: Connection, pedido_id: int, *, for_update: bool = False) -> Row:
    return get_by_id(conn, pedidos, "pedido", pedido_id, for_update=for_update)


def _overdue(today: date) -> Any:
    return and_(pedidos.c.prazo < today, pedidos.c.status.not_in([s.value for s in FINAL]))


def page(
    conn: Connection,
    *,
    after: int,
    limit: int,
    today: date,
    status: Status | None = None,
    cliente_id: int | None = None,
    tipo_id: int | None = None,
    prazo_de: date | None = None,
    prazo_ate: date | None = None,
    atrasado: bool | None = None,
) -> tuple[list[Row], int | None]:
    query = select(pedidos)
    if status is not None:
        query = query.where(pedidos.c.status == status.value)
    if cliente_id is not None:
        query = query.where(pedidos.c.cliente_id == cliente_id)
    if tipo_id is not None:
        query = query.where(pedidos.c.tipo_id == tipo_id)
    if prazo_de is not None:
        query = query.where(pedidos.c.prazo >= prazo_de)
    if prazo_ate is not None:
        query = query.where(pedidos.c.prazo <= prazo_ate)
    if atrasado is not None:
        query = query.where(_overdue(today) if atrasado else not_(_overdue(today)))
    return fetch_page(conn, query, pedidos, after, limit)


def _next_numero(conn: Connection) -> int:
    # The UPDATE takes the write lock (SQLite) or the row lock (PostgreSQL) until commit, so
    # concurrent inserts from any process queue here and numbers come out unique and gap-free.
    numero: int = conn.execute(
        update(contadores)
        .where(contadores.c.nome == "pedidos")
        .values(valor=contadores.c.valor + 1)
        .returning(contadores.c.valor)
    ).scalar_one()
    return numero


def create(conn: Connection, values: dict[str, Any], *, by: str, today: date) -> Row:
    if (
        conn.execute(select(clientes.c.id).where(clientes.c.id == values["cliente_id"])).first()
        is None
    ):
        raise Invalid("cliente_id", f"cliente {values['cliente_id']} does not exist")
    tipo = conn.execute(
        select(tipos_producao.c.ativo, tipos_producao.c.prazo_padrao_dias).where(
            tipos_producao.c.id == values["tipo_id"]
        )
    ).first()
    if tipo is None:
        raise Invalid("tipo_id", f"tipo de produção {values['tipo_id']} does not exist")
    if not tipo.ativo:
        raise Invalid("tipo_id", f"tipo de produção {values['tipo_id']} is not active")
    if values.get("prazo") is None:
        values = {**values, "prazo": today + timedelta(days=tipo.prazo_padrao_dias)}
    stamp = now()
    new_id = conn.execute(
        insert(pedidos).returning(pedidos.c.id),
        {
            **values,
            "numero": _next_numero(conn),
            "status": Status.ABERTO.value,
            "criado_em": stamp,
            "atualizado_em": stamp,
        },
    ).scalar_one()
    _record(conn, new_id, None, Status.ABERTO, by=by, nota=None)
    return get(conn, new_id)


def update_(conn: Connection, pedido_id: int, changes: dict[str, Any]) -> Row:
    current = get(conn, pedido_id, for_update=True)
    if Status(current["status"]) in FINAL:
        raise Conflict(f"pedido {pedido_id} is {current['status']} and can no longer be changed")
    conn.execute(
        update(pedidos).where(pedidos.c.id == pedido_id).values(**changes, atualizado_em=now())
    )
    return get(conn, pedido_id)


def change_status(
    conn: Connection, pedido_id: int, target: Status, *, by: str, nota: str | None
) -> Row:
    current = Status(get(conn, pedido_id, for_update=True)["status"])
    if not can_transition(current, target):
        allowed = ", ".join(sorted(allowed_next(current))) or "none (final state)"
        raise Conflict(
            f"pedido {pedido_id} cannot go from {current} to {target}; allowed: {allowed}"
        )
    conn.execute(
        update(pedidos)
        .where(pedidos.c.id == pedido_id)
        .values(status=target.value, atualizado_em=now())
    )
    _record(conn, pedido_id, current, target, by=by, nota=nota)
    return get(conn, pedido_id)


def _record(
    conn: Connection, pedido_id: int, de: Status | None, para: Status, *, by: str, nota: str | None
) -> None:
    conn.execute(
        insert(pedido_eventos).values(
            pedido_id=pedido_id,
            de=de.value if de else None,
            para=para.value,
            em=now(),
            chave=by,
            nota=nota,
        )
    )


def eventos_page(
    conn: Connection, pedido_id: int, *, after: int, limit: int
) -> tuple[list[Row], int | None]:
    get(conn, pedido_id)
    query = select(pedido_eventos).where(pedido_eventos.c.pedido_id == pedido_id)
    return fetch_page(conn, query, pedido_eventos, after, limit)
