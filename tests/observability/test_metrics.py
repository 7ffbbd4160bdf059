"""/metrics: every instance's own registry, names promtool accepts, OpenMetrics on request."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support import assert_promtool_accepts, metric, new_cliente, new_pedido

# Each mechanism's metric, as docs/ARCHITECTURE.md#resilience names it (prefix fichas_); the Redis
# ones come with the cache and the rate limits.
EXPORTED = [
    "fichas_build_info",
    "fichas_http_requests_in_flight",
    "fichas_load_shed_total",
    "fichas_request_timeouts_total",
    "fichas_idempotent_replays_total",
    "fichas_idempotency_records",
]


def test_metrics_are_served_in_the_text_format_promtool_accepts(api: TestClient) -> None:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in EXPORTED:
        assert f"\n{name}" in response.text, name
    assert 'fichas_build_info{instance="api",version="' in response.text
    assert_promtool_accepts(response.text)


def test_openmetrics_when_the_scraper_asks(api: TestClient) -> None:
    response = api.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_a_replayed_post_is_counted(api: TestClient) -> None:
    def replays() -> float:
        return metric(api.get("/metrics").text, "fichas_idempotent_replays_total")

    before = replays()
    cliente = new_cliente(api)
    pedido = new_pedido(api, cliente_id=cliente["id"])
    body = {k: pedido[k] for k in ("cliente_id", "tipo_id", "descricao", "quantidade")}
    body["valor_unitario"] = pedido["valor_unitario"]
    headers = {"Idempotency-Key": "metrics-replay-1"}
    assert api.post("/pedidos", json=body, headers=headers).status_code == 201
    assert api.post("/pedidos", json=body, headers=headers).status_code == 201
    assert replays() == before + 1
