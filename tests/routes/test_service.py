from __future__ import annotations

from starlette.testclient import TestClient


def test_health_needs_no_key_and_no_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_pings_the_database(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_root_names_the_service_and_its_contract(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["name"] == "fichas"
    assert body["docs"] == "/openapi.json"


def test_openapi_is_3_1_and_lists_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (method, route.path.replace("{id:int}", "{id}"))
        for route in client.app.routes  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}
    }
    assert routes == served


def test_405_names_every_method_of_the_path(api: TestClient) -> None:
    response = api.put("/clientes/1")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}
