"""Every error is RFC 9457 problem+json, with nothing internal leaking out."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from tests.support import assert_problem


def test_unknown_route_is_404_and_wrong_method_405(api: TestClient) -> None:
    assert_problem(api.get("/nada"), 404, "not-found")
    assert_problem(api.put("/clientes"), 405, "method-not-allowed")


def test_body_must_be_json(api: TestClient) -> None:
    response = api.post(
        "/clientes",
        content=b"nome=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert_problem(api.post("/clientes", content=b"{}"), 415, "unsupported-media-type")
    malformed = api.post(
        "/clientes", content=b'{"nome": ', headers={"content-type": "application/json"}
    )
    assert_problem(malformed, 400, "malformed-json")
    not_an_object = api.post("/clientes", json=["nome"])
    assert_problem(not_an_object, 422, "validation")


def test_bodies_over_one_mebibyte_are_413(api: TestClient) -> None:
    big = b'{"nome": "' + b"x" * (1024 * 1024) + b'"}'
    declared = api.post("/clientes", content=big, headers={"content-type": "application/json"})
    assert_problem(declared, 413, "content-too-large")

    def chunks() -> object:
        yield b'{"nome": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}'

    streamed = api.post("/clientes", content=chunks(), headers={"content-type": "application/json"})  # type: ignore[arg-type]
    assert_problem(streamed, 413, "content-too-large")


def test_the_request_id_from_the_proxy_is_kept(api: TestClient) -> None:
    response = api.get("/clientes/424242", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert assert_problem(response, 404, "not-found")["request_id"] == "abc-123"
    hostile = api.get("/health", headers={"X-Request-ID": "<bad id>"})
    assert hostile.headers["x-request-id"] != "<bad id>"


def test_unexpected_errors_are_500_with_a_request_id_and_no_internals(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr("api.data.clientes.page", broken)
    with caplog.at_level(logging.ERROR, logger="fichas.errors"):
        response = api.get("/clientes")
    body = assert_problem(response, 500, "internal")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == body["request_id"]]
    assert logged
    assert logged[0].exc_info is not None
