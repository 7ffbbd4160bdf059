"""/producoes/tipos: create, list, filter, change, deactivate."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support import assert_problem, new_pedido, new_tipo


def test_create_with_defaults(api: TestClient) -> None:
    response = api.post("/producoes/tipos", json={"codigo": "serigrafia", "nome": "Serigrafia"})
    assert response.status_code == 201
    body = response.json()
    assert body["prazo_padrao_dias"] == 7
    assert body["ativo"] is True
    assert response.headers["location"] == f"/producoes/tipos/{body['id']}"
    assert api.get(response.headers["location"]).json() == body


def test_codigo_is_a_unique_slug(api: TestClient) -> None:
    new_tipo(api, codigo="bordado")
    assert_problem(
        api.post("/producoes/tipos", json={"codigo": "bordado", "nome": "B"}), 409, "conflict"
    )
    bad = api.post("/producoes/tipos", json={"codigo": "Bordado Fino", "nome": "B"})
    assert [e["field"] for e in assert_problem(bad, 422, "validation")["errors"]] == ["codigo"]


def test_filter_by_ativo(api: TestClient) -> None:
    ativo = new_tipo(api, codigo="corte")
    inativo = new_tipo(api, codigo="dtf", ativo=False)
    assert [t["id"] for t in api.get("/producoes/tipos?ativo=true").json()["items"]] == [
        ativo["id"]
    ]
    assert [t["id"] for t in api.get("/producoes/tipos?ativo=false").json()["items"]] == [
        inativo["id"]
    ]
    assert len(api.get("/producoes/tipos").json()["items"]) == 2


def test_deactivating_keeps_existing_pedidos_but_refuses_new_ones(api: TestClient) -> None:
    pedido = new_pedido(api)
    path = f"/producoes/tipos/{pedido['tipo_id']}"
    assert api.patch(path, json={"ativo": False}).json()["ativo"] is False
    assert api.get(f"/pedidos/{pedido['id']}").status_code == 200
    refused = api.post(
        "/pedidos",
        json={
            "cliente_id": pedido["cliente_id"],
            "tipo_id": pedido["tipo_id"],
            "descricao": "x",
            "quantidade": 1,
            "valor_unitario": 100,
        },
    )
    assert "not active" in assert_problem(refused, 409, "conflict")["detail"]


def test_patch_renames_codigo_unless_taken(api: TestClient) -> None:
    new_tipo(api, codigo="costura")
    tipo = new_tipo(api, codigo="corte")
    path = f"/producoes/tipos/{tipo['id']}"
    assert_problem(api.patch(path, json={"codigo": "costura"}), 409, "conflict")
    assert api.patch(path, json={"codigo": "corte-laser"}).json()["codigo"] == "corte-laser"
    assert_problem(api.patch(path, json={"ativo": None}), 422, "validation")


def test_if_match_on_tipos(api: TestClient) -> None:
    path = f"/producoes/tipos/{new_tipo(api)['id']}"
    stale = '"0000"'
    assert_problem(
        api.patch(path, json={"nome": "X"}, headers={"If-Match": stale}), 412, "precondition-failed"
    )
    current = api.get(path).headers["etag"]
    assert api.patch(path, json={"nome": "X"}, headers={"If-Match": current}).status_code == 200


def test_unknown_tipo_is_404(api: TestClient) -> None:
    assert_problem(api.get("/producoes/tipos/4242"), 404, "not-found")
    assert_problem(api.patch("/producoes/tipos/4242", json={"nome": "X"}), 404, "not-found")
