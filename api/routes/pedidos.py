"""/pedidos: production orders, their workflow, history and printable ficha."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection
from starlette.responses import Response

from api.data import clientes, pedidos, tipos
from api.data.common import Row
from api.domain.workflow import FINAL, Status
from api.http.body import read_json, read_query
from api.http.representation import Encoder, json_response
from api.routes import idempotency
from api.routes.common import guarded, page_response, page_window
from api.routes.context import Call
from api.routes.ficha import ficha_page
from api.routes.operation import Operation
from api.schemas.common import Page, PageQuery
from api.schemas.pedidos import (
    Evento,
    Pedido,
    PedidoIn,
    PedidoPatch,
    PedidoQuery,
    StatusIn,
)

_encode_one = Encoder(Pedido)
_encode_page = Encoder(Page[Pedido])
_encode_eventos = Encoder(Page[Evento])


def view(row: Row, today: date) -> dict[str, Any]:
    """The API's picture of a pedido: the row plus what is derived from it."""
    return {
        **row,
        "valor_total": row["quantidade"] * row["valor_unitario"],
        "atrasado": row["prazo"] < today and Status(row["status"]) not in FINAL,
    }


async def list_pedidos(call: Call) -> Response:
    query = read_query(call.request, PedidoQuery)
    today = call.services.today()
    filters = query.model_dump(exclude={"cursor", "limit"})
    page = await call.db.read(pedidos.page, **page_window(call, query), today=today, **filters)
    return page_response(call, _encode_page, page, lambda row: view(row, today))


async def create_pedido(call: Call) -> Response:
    payload = await read_json(call.request, PedidoIn)
    today, by = call.services.today(), call.principal.nome

    def make(conn: Connection) -> idempotency.Outcome:
        row = pedidos.create(conn, payload.model_dump(), by=by, today=today)
        return _encode_one(view(row, today)), f"/pedidos/{row['id']}"

    return await idempotency.post(call, payload, make)


async def get_pedido(call: Call) -> Response:
    row = await call.db.read(pedidos.get, call.path_id())
    return json_response(call.request, _encode_one(view(row, call.services.today())))


def _guarded(call: Call, change: Callable[[Connection, int], Row]) -> Callable[[Connection], bytes]:
    today = call.services.today()
    return guarded(call, lambda row: _encode_one(view(row, today)), pedidos.get, change)


async def update_pedido(call: Call) -> Response:
    changes = (await read_json(call.request, PedidoPatch)).changes()
    transaction = _guarded(call, lambda conn, ident: pedidos.update(conn, ident, changes))
    return json_response(call.request, await call.db.write(transaction))


async def change_status(call: Call) -> Response:
    payload = await read_json(call.request, StatusIn)
    by = call.principal.nome

    def change(conn: Connection, ident: int) -> Row:
        return pedidos.change_status(conn, ident, payload.status, by=by, nota=payload.nota)

    transaction = _guarded(call, change)
    return await idempotency.post(call, payload, lambda conn: (transaction(conn), None), status=200)


async def list_eventos(call: Call) -> Response:
    query = read_query(call.request, PageQuery)
    page = await call.db.read(pedidos.eventos_page, call.path_id(), **page_window(call, query))
    return page_response(call, _encode_eventos, page)


async def get_ficha(call: Call) -> Response:
    pedido_id = call.path_id()

    def gather(conn: Connection) -> tuple[Row, Row, Row, list[Row]]:
        pedido = pedidos.get(conn, pedido_id)
        eventos, _ = pedidos.eventos_page(conn, pedido_id, after=0, limit=100)
        return (
            pedido,
            clientes.get(conn, pedido["cliente_id"]),
            tipos.get(conn, pedido["tipo_id"]),
            eventos,
        )

    pedido, cliente, tipo, eventos = await call.db.read(gather)
    today = call.services.today()
    return ficha_page(view(pedido, today), cliente, tipo, eventos, zone=call.services.zone)


TAG = "pedidos"
OPERATIONS = [
    Operation("GET", "/pedidos", list_pedidos, "List and filter pedidos", TAG, "read",
              query=PedidoQuery, response=Page[Pedido]),
    Operation("POST", "/pedidos", create_pedido, "Open a pedido", TAG, "write",
              body=PedidoIn, response=Pedido, status=201, errors=(409,), idempotent=True),
    Operation("GET", "/pedidos/{id:id}", get_pedido, "Read a pedido", TAG, "read",
              response=Pedido),
    Operation("PATCH", "/pedidos/{id:id}", update_pedido,
              "Change a pedido that is not delivered or cancelled", TAG, "write",
              body=PedidoPatch, response=Pedido, errors=(409,), conditional=True),
    Operation("POST", "/pedidos/{id:id}/status", change_status,
              "Move a pedido along its workflow", TAG, "write",
              body=StatusIn, response=Pedido, errors=(409,), conditional=True, idempotent=True),
    Operation("GET", "/pedidos/{id:id}/eventos", list_eventos,
              "The pedido's history of status changes", TAG, "read",
              query=PageQuery, response=Page[Evento]),
    Operation("GET", "/pedidos/{id:id}/ficha", get_ficha,
              "The printable production card (HTML)", TAG, "read", media_type="text/html"),
]  # fmt: skip
