"""/chaves: API keys, managed by admins (the same as ``fichas keys``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from starlette.responses import Response

from api.auth.keys import issue
from api.data import chaves
from api.data.common import Row
from api.http.body import read_json, read_query
from api.http.representation import Encoder, json_response
from api.routes import idempotency
from api.routes.common import page_response, page_window
from api.routes.context import Call
from api.routes.operation import Operation
from api.schemas.chaves import Chave, ChaveCriada, ChaveIn
from api.schemas.common import Page, PageQuery

_encode_one = Encoder(Chave)
_encode_created = Encoder(ChaveCriada)
_encode_page = Encoder(Page[Chave])


def view(row: Row) -> dict[str, Any]:
    """Never the hash: only what identifies the key."""
    return {
        "id": row["id"],
        "nome": row["nome"],
        "prefixo": row["prefixo"],
        "escopos": row["escopos"].split(","),
        "criado_em": row["criado_em"],
        "revogado_em": row["revogado_em"],
    }


async def list_chaves(call: Call) -> Response:
    query = read_query(call.request, PageQuery)
    page = await call.db.read(chaves.page, **page_window(call, query))
    return page_response(call, _encode_page, page, view)


async def create_chave(call: Call) -> Response:
    idempotency.refuse(call)  # the answer holds the token: it must not be stored
    payload = await read_json(call.request, ChaveIn)

    def make(conn: Connection) -> Row:
        row, token = issue(conn, payload.nome, sorted(set(payload.escopos)))
        return {**view(row), "token": token}

    created = await call.db.write(make)
    headers = {"Location": f"/chaves/{created['id']}", "Cache-Control": "no-store"}
    return json_response(call.request, _encode_created(created), 201, headers)


async def revoke_chave(call: Call) -> Response:
    row = await call.db.write(chaves.revoke, call.path_id())
    await call.services.auth.revoked()  # committed: stop trusting it here, and tell the others
    return json_response(call.request, _encode_one(view(row)))


TAG = "chaves"
OPERATIONS = [
    Operation("GET", "/chaves", list_chaves, "List API keys", TAG, "admin",
              query=PageQuery, response=Page[Chave]),
    Operation("POST", "/chaves", create_chave, "Create an API key (its token is shown once)",
              TAG, "admin", body=ChaveIn, response=ChaveCriada, status=201, errors=(409,),
              secret=True),
    Operation("DELETE", "/chaves/{id:id}", revoke_chave, "Revoke an API key", TAG, "admin",
              response=Chave, errors=(409,)),
]  # fmt: skip
