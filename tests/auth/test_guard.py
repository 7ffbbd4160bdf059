"""Authentication: Bearer keys, refused politely; the cache still honours revocation in time."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from api.app import create_app
from api.auth import guard
from fichas.settings import Settings
from tests.clock import Clock
from tests.support import assert_problem, make_token


def test_missing_malformed_and_unknown_keys_are_401(client: TestClient) -> None:
    for header in (
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer fichas_nope_nope",
        "Bearer garbage",
    ):
        headers = {"Authorization": header} if header else {}
        response = client.get("/clientes", headers=headers)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_secret_with_a_real_prefix_is_401(client: TestClient, token: str) -> None:
    prefix = token.split("_")[1]
    response = client.get(
        "/clientes", headers={"Authorization": f"Bearer fichas_{prefix}_wrongsecret"}
    )
    assert_problem(response, 401, "unauthorized")


def test_health_and_ready_need_no_key(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_cached_keys_expire_so_revocation_takes_effect(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock().install(monkeypatch, guard)
    token = make_token(engine, "pc-cache", ["read"])
    cached = Settings(**{**settings.model_dump(), "auth_cache_seconds": 5})
    with TestClient(create_app(cached), headers={"Authorization": f"Bearer {token}"}) as pc:
        assert pc.get("/clientes").status_code == 200
        with engine.begin() as conn:
            from api.data import chaves

            row = chaves.by_name(conn, "pc-cache")
            assert row is not None
            chaves.revoke(conn, row["id"])
        clock.advance(4.9)
        assert pc.get("/clientes").status_code == 200  # trusted a little longer
        clock.advance(0.2)
        assert_problem(pc.get("/clientes"), 401, "unauthorized")
