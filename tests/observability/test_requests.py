"""Request metrics by method, route template and status; unknown paths and methods collapse
into one label each, so no client can make the series grow."""

from __future__ import annotations

import random

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from fichas.settings import Settings
from tests.support import assert_promtool_accepts, new_cliente


def _series(client: TestClient) -> set[str]:
    return {
        line.rpartition(" ")[0]
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("fichas_http_request")
    }


def test_requests_are_counted_by_route_template(api: TestClient) -> None:
    cliente = new_cliente(api)
    api.get(f"/clientes/{cliente['id']}")
    api.get("/clientes/999999")
    text = api.get("/metrics").text
    route = 'route="/clientes/{id:id}"'
    assert f'fichas_http_requests_total{{method="GET",{route},status="200"}} 1.0' in text
    assert f'fichas_http_requests_total{{method="GET",{route},status="404"}} 1.0' in text
    assert 'fichas_http_requests_total{method="POST",route="/clientes",status="201"}' in text
    assert f'fichas_http_request_duration_seconds_count{{method="GET",{route}}} 2.0' in text
    assert f'fichas_http_request_duration_seconds_bucket{{le="0.001",method="GET",{route}}}' in text
    assert_promtool_accepts(text)


@pytest.mark.slow
def test_random_paths_and_methods_add_no_series(api: TestClient) -> None:
    for method in ("GET", "POST", "BREW"):  # each kind of answer seen once
        api.request(method, "/no-such-thing")
    _series(api)  # and a scrape, which is a request too
    before = _series(api)
    rng = random.Random(7)
    for _ in range(10_000):
        path = "/" + "/".join(str(rng.getrandbits(32)) for _ in range(rng.randint(1, 4)))
        method = rng.choice(["GET", "POST", "BREW", "PROPFIND"])
        assert api.request(method, path).status_code == 404
    after = _series(api)
    assert after == before
    assert any('route="unmatched"' in s for s in after)
    assert any('method="other"' in s for s in after)


def test_request_metrics_can_be_switched_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"request_metrics": False}))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        text = client.get("/metrics").text
    assert "fichas_http_requests_total{" not in text
    assert "fichas_http_request_duration_seconds_count{" not in text
    assert "fichas_http_requests_in_flight" in text  # the rest of /metrics stays
