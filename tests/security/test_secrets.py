"""Secrets are never stored or logged (issue 17, point 3).

A new key's token is in exactly one answer, never in the Idempotency-Key store; the first admin
key reaches a terminal, never a log stream; stored answers expire and are pruned.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from api.db.tables import api_keys, idempotency_keys
from tests.support import assert_problem


def _rows(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_new_key_is_never_stored_as_an_idempotent_answer(
    admin: TestClient, engine: Engine
) -> None:
    keys_before = _rows(engine, api_keys)
    refused = admin.post(
        "/chaves", json={"nome": "pc-corte-01"}, headers={"Idempotency-Key": "nova-chave-1"}
    )
    assert_problem(refused, 400, "idempotency-key-refused")
    # Refused before anything was done: no key to retry blindly into a duplicate, nothing stored.
    assert _rows(engine, api_keys) == keys_before
    assert _rows(engine, idempotency_keys) == 0
    created = admin.post("/chaves", json={"nome": "pc-corte-01"})
    assert created.status_code == 201
    assert _rows(engine, idempotency_keys) == 0


def test_the_contract_says_post_chaves_takes_no_idempotency_key(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    create_chave = paths["/chaves"]["post"]
    assert "Idempotency-Key" not in {p["name"] for p in create_chave["parameters"]}
    assert "`Idempotency-Key` is refused" in create_chave["description"]
    assert "400" in create_chave["responses"]
    # The other creating POSTs still offer it: the flag is per operation.
    create_cliente = paths["/clientes"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in create_cliente["parameters"]}
