"""/clientes: the factory's customers."""

from __future__ import annotations

from sqlalchemy.engine import Connection
from starlette.responses import Response

from api.data import clientes
from api.http.body import read_json, read_query
from api.http.representation import Encoder, json_response, require_match
from api.routes import idempotency
from api.routes.common import guarded, page_response, page_window
from api.routes.context import Call
from api.routes.operation import Operation
from api.schemas.clientes import Cliente, ClienteIn, ClientePatch, ClienteQuery
from api.schemas.common import Page

encode_one = Encoder(Cliente)
encode_page = Encoder(Page[Cliente])


async def list_clientes(call: Call) -> Response:
    query = read_query(call.request, ClienteQuery)
    page = await call.db.read(
        clientes.page, **page_window(call, query), q=query.q, cidade=query.cidade
    )
    return page_response(call, encode_page, page)


async def create_cliente(call: Call) -> Response:
    payload = await read_json(call.request, ClienteIn)

    def make(conn: Connection) -> idempotency.Outcome:
        row = clientes.create(conn, payload.model_dump())
        return encode_one(row), f"/clientes/{row['id']}"

    return await idempotency.post(call, payload, make)


async def get_cliente(call: Call) -> Response:
    return json_response(call.request, encode_one(await call.db.read(clientes.get, call.path_id())))


async def update_cliente(call: Call) -> Response:
    changes = (await read_json(call.request, ClientePatch)).changes()
    transaction = guarded(
        call, encode_one, clientes.get, lambda conn, ident: clientes.update(conn, ident, changes)
    )
    return json_response(call.request, await call.db.write(transaction))


async def delete_cliente(call: Call) -> Response:
    ident, if_match = call.path_id(), call.request.headers.get("if-match")

    def transaction(conn: Connection) -> None:
        current = clientes.get(conn, ident, for_update=True)  # a 404 when there is none
        require_match(if_match, lambda: encode_one(current))
        clientes.delete(conn, ident)

    await call.db.write(transaction)
    return Response(status_code=204)


TAG = "clientes"
OPERATIONS = [
    Operation("GET", "/clientes", list_clientes, "List and search clientes", TAG, "read",
              query=ClienteQuery, response=Page[Cliente], cached="clientes"),
    Operation("POST", "/clientes", create_cliente, "Register a cliente", TAG, "write",
              body=ClienteIn, response=Cliente, status=201, errors=(409,), idempotent=True,
              invalidates="clientes"),
    Operation("GET", "/clientes/{id:id}", get_cliente, "Read a cliente", TAG, "read",
              response=Cliente, cached="clientes"),
    Operation("PATCH", "/clientes/{id:id}", update_cliente, "Change a cliente", TAG, "write",
              body=ClientePatch, response=Cliente, errors=(409,), conditional=True,
              invalidates="clientes"),
    Operation("DELETE", "/clientes/{id:id}", delete_cliente,
              "Delete a cliente that has no pedidos", TAG, "write",
              status=204, errors=(409,), conditional=True, invalidates="clientes"),
]  # fmt: skip
