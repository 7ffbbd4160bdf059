"""/chaves: admins create, list and revoke keys; the token is shown once; only admins may."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support import assert_problem


def test_created_token_works_once_shown_and_is_never_listed(
    admin: TestClient, client: TestClient
) -> None:
    response = admin.post("/chaves", json={"nome": "pc-corte-01", "escopos": ["read"]})
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert created["token"].startswith(f"fichas_{created['prefixo']}_")
    assert created["escopos"] == ["read"]

    client.headers["Authorization"] = f"Bearer {created['token']}"
    assert client.get("/clientes").status_code == 200
    assert_problem(client.post("/clientes", json={"nome": "X"}), 403, "forbidden")

    listed = admin.get("/chaves").json()["items"]
    assert {k["nome"] for k in listed} == {"admin-teste", "pc-corte-01"}
    assert all("token" not in k and "hash" not in k for k in listed)


def test_revoked_key_is_refused(admin: TestClient, client: TestClient) -> None:
    created = admin.post("/chaves", json={"nome": "pc-velho"}).json()
    client.headers["Authorization"] = f"Bearer {created['token']}"
    assert client.get("/clientes").status_code == 200
    revoked = admin.delete(f"/chaves/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revogado_em"] is not None
    assert_problem(client.get("/clientes"), 401, "unauthorized")
    assert_problem(admin.delete(f"/chaves/{created['id']}"), 409, "conflict")


def test_names_are_unique_and_scopes_checked(admin: TestClient) -> None:
    admin.post("/chaves", json={"nome": "pc-1"})
    assert_problem(admin.post("/chaves", json={"nome": "pc-1"}), 409, "conflict")
    assert_problem(
        admin.post("/chaves", json={"nome": "pc-2", "escopos": ["root"]}), 422, "validation"
    )
    assert_problem(admin.post("/chaves", json={"nome": "pc-2", "escopos": []}), 422, "validation")


def test_only_admins_manage_keys(api: TestClient) -> None:
    assert_problem(api.get("/chaves"), 403, "forbidden")
    assert_problem(api.post("/chaves", json={"nome": "x"}), 403, "forbidden")
    assert_problem(api.delete("/chaves/1"), 403, "forbidden")
