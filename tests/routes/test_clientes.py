"""/clientes: CRUD, search, documento rules, conditional updates, auth."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from tests.support import assert_problem, new_cliente, new_pedido


def test_create_normalises_the_documento_and_points_to_the_new_cliente(api: TestClient) -> None:
    response = api.post(
        "/clientes",
        json={"nome": "  Oficina Alfa Ltda ", "documento": "11.222.333/0001-81", "uf": "SC"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["nome"] == "Oficina Alfa Ltda"
    assert body["documento"] == "11222333000181"
    assert response.headers["location"] == f"/clientes/{body['id']}"
    assert body["criado_em"].endswith("Z")
    assert api.get(f"/clientes/{body['id']}").json() == body


def test_bad_fields_are_all_reported_at_once(api: TestClient) -> None:
    response = api.post(
        "/clientes", json={"nome": "", "documento": "123.456.789-00", "uf": "XX", "extra": 1}
    )
    body = assert_problem(response, 422, "validation")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"nome", "documento", "uf", "extra"}


def test_a_documento_belongs_to_one_cliente(api: TestClient) -> None:
    new_cliente(api, documento="529.982.247-25")
    response = api.post("/clientes", json={"nome": "Outro", "documento": "52998224725"})
    assert_problem(response, 409, "conflict")


def test_search_finds_nome_documento_and_email_case_insensitively(api: TestClient) -> None:
    ana = new_cliente(api, nome="Ana Bordados", documento="52998224725", cidade="Blumenau")
    new_cliente(api, nome="Bruno Costa", email="bruno@exemplo.com.br", cidade="Recife")

    def names(query: str) -> list[str]:
        response = api.get(f"/clientes?{query}")
        assert response.status_code == 200
        return [item["nome"] for item in response.json()["items"]]

    assert names("q=ana") == ["Ana Bordados"]
    assert names("q=529.982") == ["Ana Bordados"]
    assert names("q=EXEMPLO.com") == ["Bruno Costa"]
    assert names("cidade=recife") == ["Bruno Costa"]
    assert names("q=nobody") == []
    assert api.get(f"/clientes/{ana['id']}").status_code == 200


def test_list_pages_with_a_cursor_in_id_order(api: TestClient) -> None:
    ids = [new_cliente(api, nome=f"Cliente {n}")["id"] for n in range(5)]
    first = api.get("/clientes?limit=2").json()
    assert [c["id"] for c in first["items"]] == ids[:2]
    second = api.get(f"/clientes?limit=2&cursor={first['next_cursor']}").json()
    assert [c["id"] for c in second["items"]] == ids[2:4]
    last = api.get(f"/clientes?limit=2&cursor={second['next_cursor']}").json()
    assert [c["id"] for c in last["items"]] == ids[4:]
    assert last["next_cursor"] is None


def test_bad_list_parameters_are_422(api: TestClient) -> None:
    assert_problem(api.get("/clientes?limit=0"), 422, "validation")
    assert_problem(api.get("/clientes?limit=abc"), 422, "validation")
    assert_problem(api.get("/clientes?cursor=not-a-cursor"), 422, "validation")


def test_patch_changes_only_the_fields_sent(api: TestClient) -> None:
    cliente = new_cliente(api, email="a@b.com.br", cidade="Curitiba")
    response = api.patch(
        f"/clientes/{cliente['id']}", json={"cidade": None, "telefone": "(41) 99999-0000"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["cidade"] is None
    assert body["telefone"] == "(41) 99999-0000"
    assert body["email"] == "a@b.com.br"
    assert body["atualizado_em"] >= cliente["atualizado_em"]


def test_patch_cannot_remove_the_nome(api: TestClient) -> None:
    cliente = new_cliente(api)
    assert_problem(api.patch(f"/clientes/{cliente['id']}", json={"nome": None}), 422, "validation")


def test_if_match_guards_updates_and_deletes(api: TestClient) -> None:
    cliente = new_cliente(api)
    path = f"/clientes/{cliente['id']}"
    etag = api.get(path).headers["etag"]
    changed = api.patch(path, json={"cidade": "Recife"}, headers={"If-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    stale = api.patch(path, json={"cidade": "Natal"}, headers={"If-Match": etag})
    assert_problem(stale, 412, "precondition-failed")
    assert_problem(api.delete(path, headers={"If-Match": etag}), 412, "precondition-failed")
    assert api.get(path).json()["cidade"] == "Recife"
    assert api.delete(path, headers={"If-Match": changed.headers["etag"]}).status_code == 204


def test_get_with_a_matching_etag_is_304(api: TestClient) -> None:
    path = f"/clientes/{new_cliente(api)['id']}"
    etag = api.get(path).headers["etag"]
    response = api.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_delete_removes_a_cliente_without_pedidos(api: TestClient) -> None:
    path = f"/clientes/{new_cliente(api)['id']}"
    assert api.delete(path).status_code == 204
    assert_problem(api.get(path), 404, "not-found")
    assert_problem(api.delete(path), 404, "not-found")


def test_a_cliente_with_pedidos_cannot_be_deleted(api: TestClient) -> None:
    pedido = new_pedido(api)
    response = api.delete(f"/clientes/{pedido['cliente_id']}")
    assert_problem(response, 409, "conflict")


def test_unknown_and_out_of_range_ids_are_404(api: TestClient) -> None:
    assert_problem(api.get("/clientes/999999"), 404, "not-found")
    assert_problem(api.get("/clientes/99999999999999999999"), 404, "not-found")
    assert_problem(api.patch("/clientes/999999", json={"cidade": "X"}), 404, "not-found")


def test_reading_needs_a_key_and_writing_needs_the_write_scope(
    client: TestClient, engine: object
) -> None:
    from sqlalchemy import Engine

    from tests.support import make_token

    assert isinstance(engine, Engine)
    assert_problem(client.get("/clientes"), 401, "unauthorized")
    reader = make_token(engine, "leitor", ["read"])
    client.headers["Authorization"] = f"Bearer {reader}"
    assert client.get("/clientes").status_code == 200
    assert_problem(client.post("/clientes", json={"nome": "X"}), 403, "forbidden")
    assert_problem(client.patch("/clientes/1", json={"nome": "X"}), 403, "forbidden")
    assert_problem(client.delete("/clientes/1"), 403, "forbidden")


def test_the_cidade_filter_ignores_case_in_every_alphabet(api: TestClient) -> None:
    # On PostgreSQL whatever the database's locale (the test server's may be C, where lower()
    # knows ASCII only), and on SQLite, whose lower() knows ASCII only.
    for nome, cidade in [
        ("Ana", "São Paulo"),
        ("Bia", "MACEIÓ"),
        ("Caio", "Foz do Iguaçu"),
        ("Davi", "Straße"),
        ("Eva", "Itajai\u0301"),  # "Itajaí" with the accent as a combining mark (NFD)
        ("Fabi", "Sao Paulo"),  # another cidade: accents are not case
    ]:
        new_cliente(api, nome=nome, cidade=cidade)

    def names(cidade: str) -> list[str]:
        response = api.get("/clientes", params={"cidade": cidade})
        assert response.status_code == 200
        return [item["nome"] for item in response.json()["items"]]

    assert names("SÃO PAULO") == names("são paulo") == ["Ana"]
    assert names("Maceió") == ["Bia"]
    assert names("FOZ DO IGUAÇU") == ["Caio"]
    assert names("STRASSE") == names("strasse") == ["Davi"]  # ß folds to ss
    assert names("ITAJAÍ") == ["Eva"]  # one precomposed character matches the pair
    assert names("SAO PAULO") == ["Fabi"]
    assert names("São") == []  # the whole cidade, not a part


def test_the_cidade_filter_follows_changes(api: TestClient) -> None:
    cliente = new_cliente(api, nome="Gil", cidade="Blumenau")
    path = f"/clientes/{cliente['id']}"
    assert api.patch(path, json={"cidade": "GOIÂNIA"}).status_code == 200
    assert [c["nome"] for c in api.get("/clientes?cidade=goiânia").json()["items"]] == ["Gil"]
    assert api.get("/clientes?cidade=blumenau").json()["items"] == []
    assert api.patch(path, json={"cidade": None}).status_code == 200
    assert api.get("/clientes?cidade=goiânia").json()["items"] == []


@pytest.mark.slow
def test_the_cidade_filter_is_served_by_an_index(api: TestClient, engine: Engine) -> None:
    # One cliente in 40 is in Belém: rare enough that PostgreSQL's planner, given the choice,
    # reads the cidade index rather than walking the primary key and filtering.
    for n in range(400):
        new_cliente(api, nome=f"Cliente {n}", cidade="Belém" if n % 40 == 0 else f"Cidade {n % 37}")
    ran: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "cidade" in statement and statement.lstrip().upper().startswith("SELECT"):
            ran.append((statement, parameters))

    # The statement the API itself runs for ?cidade=, explained on the same database.
    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert len(api.get("/clientes?cidade=BELÉM&limit=10").json()["items"]) == 10
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    [(statement, parameters)] = ran
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            steps = " / ".join(str(step[-1]) for step in plan)
        else:
            conn.exec_driver_sql("ANALYZE clientes")
            # A table this small is read whole; what matters is that an index can serve it.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
            steps = " / ".join(str(step[0]) for step in plan)
    assert "ix_clientes_cidade_busca" in steps, steps
