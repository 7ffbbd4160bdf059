"""Idempotency-Key: a retried POST is answered from the store, never done twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, update
from starlette.testclient import TestClient

from api.data import idempotency
from api.db.engine import writing
from api.db.tables import idempotency_keys, pedidos
from tests.support import assert_problem, make_token, new_cliente, new_pedido, new_tipo


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(pedidos)).scalar_one())


def _pedido_body(api: TestClient) -> dict[str, object]:
    cliente, tipo = new_cliente(api), new_tipo(api)
    return {
        "cliente_id": cliente["id"],
        "tipo_id": tipo["id"],
        "descricao": "x",
        "quantidade": 1,
        "valor_unitario": 1,
    }


def test_same_key_same_body_replays_the_first_response(api: TestClient, engine: Engine) -> None:
    body = _pedido_body(api)
    first = api.post("/pedidos", json=body, headers={"Idempotency-Key": "pc1-0001"})
    again = api.post("/pedidos", json=body, headers={"Idempotency-Key": "pc1-0001"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(engine) == 1


def test_same_key_other_body_is_422(api: TestClient, engine: Engine) -> None:
    body = _pedido_body(api)
    api.post("/pedidos", json=body, headers={"Idempotency-Key": "k"})
    other = api.post("/pedidos", json={**body, "quantidade": 2}, headers={"Idempotency-Key": "k"})
    assert_problem(other, 422, "idempotency-key-reused")
    assert _count(engine) == 1


def test_body_equality_is_semantic_not_byte_for_byte(api: TestClient) -> None:
    cliente = new_cliente(api)
    compact = b'{"nome":"Loja","email":"a@b.com.br"}'
    spaced = b'{ "email": "a@b.com.br",  "nome": "Loja" }'
    headers = {"Idempotency-Key": "same", "content-type": "application/json"}
    first = api.post("/clientes", content=compact, headers=headers)
    second = api.post("/clientes", content=spaced, headers=headers)
    assert second.json()["id"] == first.json()["id"] != cliente["id"]


def test_keys_are_scoped_to_the_api_key(
    api: TestClient, client: TestClient, engine: Engine
) -> None:
    body = {"nome": "Mesmo Nome"}
    first = api.post("/clientes", json=body, headers={"Idempotency-Key": "shared"})
    other_pc = TestClient(
        client.app,
        headers={"Authorization": f"Bearer {make_token(engine, 'pc-2', ['read', 'write'])}"},
    )
    second = other_pc.post("/clientes", json=body, headers={"Idempotency-Key": "shared"})
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


def test_failed_requests_are_not_stored(api: TestClient) -> None:
    body = {
        "cliente_id": 999,
        "tipo_id": 999,
        "descricao": "x",
        "quantidade": 1,
        "valor_unitario": 1,
    }
    assert (
        api.post("/pedidos", json=body, headers={"Idempotency-Key": "retry-me"}).status_code == 409
    )
    cliente, tipo = new_cliente(api), new_tipo(api)
    fixed = {**body, "cliente_id": cliente["id"], "tipo_id": tipo["id"]}
    assert (
        api.post("/pedidos", json=fixed, headers={"Idempotency-Key": "retry-me"}).status_code == 201
    )


def test_status_changes_are_idempotent_too(api: TestClient) -> None:
    path = f"/pedidos/{new_pedido(api)['id']}/status"
    headers = {"Idempotency-Key": "advance-1"}
    first = api.post(path, json={"status": "em_producao"}, headers=headers)
    retried = api.post(path, json={"status": "em_producao"}, headers=headers)
    assert first.status_code == retried.status_code == 200
    assert retried.headers["idempotent-replayed"] == "true"
    eventos = api.get(path.replace("/status", "/eventos")).json()["items"]
    assert len(eventos) == 2


def test_bad_keys_are_400(api: TestClient) -> None:
    for bad in ("", "x" * 256, "chave\tcom tab"):
        response = api.post("/clientes", json={"nome": "X"}, headers={"Idempotency-Key": bad})
        assert_problem(response, 400, "bad-idempotency-key")


def age_records(engine: Engine, hours: float, *keys: str) -> None:
    """Make the stored answers of these keys (all of them if none is named) ``hours`` old."""
    statement = update(idempotency_keys).values(
        created_at=datetime.now(UTC) - timedelta(hours=hours)
    )
    if keys:
        statement = statement.where(idempotency_keys.c.key.in_(keys))
    with writing(engine) as conn:
        conn.execute(statement)


def test_an_expired_record_no_longer_replays(api: TestClient, engine: Engine) -> None:
    headers = {"Idempotency-Key": "pc1-cliente-1"}
    first = api.post("/clientes", json={"nome": "Loja"}, headers=headers)
    assert api.post("/clientes", json={"nome": "Loja"}, headers=headers).json() == first.json()
    age_records(engine, 25)  # FICHAS_IDEMPOTENCY_TTL is 24 h by default

    # Applied as new: the old answer is gone, a different body is no reuse, and the new answer
    # is the one replayed from now on.
    again = api.post("/clientes", json={"nome": "Loja Nova"}, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    replayed = api.post("/clientes", json={"nome": "Loja Nova"}, headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == again.json()


def test_expired_records_are_deleted_in_bounded_batches(api: TestClient, engine: Engine) -> None:
    for n in range(6):
        headers = {"Idempotency-Key": f"lote-{n}"}
        assert api.post("/clientes", json={"nome": f"C{n}"}, headers=headers).is_success
    age_records(engine, 48, *(f"lote-{n}" for n in range(5)))
    before = datetime.now(UTC) - timedelta(hours=24)
    with writing(engine) as conn:
        deleted = [idempotency.delete_expired(conn, before, 2) for _ in range(4)]
    with engine.connect() as conn:
        left = list(conn.execute(select(idempotency_keys.c.key)).scalars())
    assert deleted == [2, 2, 1, 0]
    assert left == ["lote-5"]
