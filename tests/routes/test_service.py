from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from tests.support import assert_problem


def test_health_needs_no_key_and_no_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_pings_the_database_and_says_redis_is_off(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "off"}


def test_root_names_the_service_and_its_contract(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["name"] == "fichas"
    assert body["docs"] == "/openapi.json"


INTERNAL = {("GET", "/metrics")}  # for Prometheus on loopback, not part of the public contract


def test_openapi_is_3_1_and_lists_every_public_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (method, route.path.replace("{id:id}", "{id}"))
        for route in client.app.routes  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}
    }
    assert routes == served - INTERNAL


def test_405_names_every_method_of_the_path(api: TestClient) -> None:
    response = api.put("/clientes/1")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


def test_ready_is_503_with_retry_after_when_the_database_fails(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(client.app.state.services.db, "ping", unreachable)  # type: ignore[attr-defined]
    response = client.get("/ready")
    body = assert_problem(response, 503, "not-ready")
    assert response.headers["retry-after"] == "1"
    assert "OperationalError" in body["detail"]
    assert "connection refused" not in response.text
    assert client.get("/health").status_code == 200  # liveness does not depend on the database
