"""/producoes/tipos: the kinds of production work."""

from __future__ import annotations

from sqlalchemy.engine import Connection
from starlette.responses import Response

from api.data import tipos
from api.http.body import read_json, read_query
from api.http.representation import Encoder, json_response
from api.routes import idempotency
from api.routes.common import guarded, page_response, page_window
from api.routes.context import Call
from api.routes.operation import Operation
from api.schemas.common import Page
from api.schemas.tipos import Tipo, TipoIn, TipoPatch, TipoQuery

encode_one = Encoder(Tipo)
encode_page = Encoder(Page[Tipo])


async def list_tipos(call: Call) -> Response:
    query = read_query(call.request, TipoQuery)
    page = await call.db.read(tipos.page, **page_window(call, query), ativo=query.ativo)
    return page_response(call, encode_page, page)


async def create_tipo(call: Call) -> Response:
    payload = await read_json(call.request, TipoIn)

    def make(conn: Connection) -> idempotency.Outcome:
        row = tipos.create(conn, payload.model_dump())
        return encode_one(row), f"/producoes/tipos/{row['id']}"

    return await idempotency.post(call, payload, make)


async def get_tipo(call: Call) -> Response:
    return json_response(call.request, encode_one(await call.db.read(tipos.get, call.path_id())))


async def update_tipo(call: Call) -> Response:
    changes = (await read_json(call.request, TipoPatch)).changes()
    transaction = guarded(
        call, encode_one, tipos.get, lambda conn, ident: tipos.update(conn, ident, changes)
    )
    return json_response(call.request, await call.db.write(transaction))


TAG = "producoes"
OPERATIONS = [
    Operation("GET", "/producoes/tipos", list_tipos, "List tipos de produção", TAG, "read",
              query=TipoQuery, response=Page[Tipo], cached="tipos"),
    Operation("POST", "/producoes/tipos", create_tipo, "Create a tipo de produção", TAG, "write",
              body=TipoIn, response=Tipo, status=201, errors=(409,), idempotent=True,
              invalidates="tipos"),
    Operation("GET", "/producoes/tipos/{id:id}", get_tipo, "Read a tipo de produção", TAG,
              "read", response=Tipo, cached="tipos"),
    Operation("PATCH", "/producoes/tipos/{id:id}", update_tipo,
              "Change (or deactivate) a tipo de produção", TAG, "write",
              body=TipoPatch, response=Tipo, errors=(409,), conditional=True,
              invalidates="tipos"),
]  # fmt: skip
