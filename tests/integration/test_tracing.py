"""One request through a real cluster with tracing on, seen by an OTLP/HTTP receiver: Caddy's
span continues the caller's trace, the API's request span is its child, the database
statements and Redis commands the API's; the request's log line and the latency histogram's
exemplar carry the same trace id."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest

from loadtest.target import own_cluster, redis_server
from tests.otlp import ReceivedSpan, Receiver, otlp_receiver

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _spans_of(receiver: Receiver, trace_id: str, enough: int) -> list[ReceivedSpan]:
    """The trace's spans once ``enough`` have arrived (exports are batched), bounded in time."""
    deadline = time.monotonic() + 20
    while len(spans := receiver.trace(trace_id)) < enough and time.monotonic() < deadline:
        time.sleep(0.2)
    return spans


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [span for span in spans if span.parent_id == parent.span_id]


def test_one_trace_runs_from_the_proxy_through_the_api_to_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver, redis_server(tmp_path) as redis:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # ms: export soon, for the test
        monkeypatch.setenv("FICHAS_LOG_LEVEL", "info")  # the access log
        log = tmp_path / "cluster.log"
        with own_cluster(tmp_path, 1, log, redis) as cluster:
            headers = {
                "Authorization": f"Bearer {cluster.admin_key}",
                "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
            }
            answer = httpx2.get(f"{cluster.url}/clientes/1", headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            spans = _spans_of(receiver, CALLER_TRACE, enough=4)
            status = json.loads((tmp_path / "cluster" / "status.json").read_text())
            instance = status["instances"][0]["health_url"].removesuffix("/health")
            openmetrics = httpx2.get(
                f"{instance}/metrics", headers={"Accept": "application/openmetrics-text"}
            ).text

    [proxy] = [span for span in spans if span.service == "fichas-proxy"]
    assert proxy.parent_id == CALLER_SPAN  # the caller's trace, continued
    [request] = _children(spans, proxy)
    assert (request.service, request.name) == ("fichas-api", "GET /clientes/{id:id}")
    assert request.attributes["http.response.status_code"] == "200"
    below = {span.name for span in _children(spans, request)}
    assert "SELECT sqlite" in below, spans  # the API key's and the cliente's rows
    assert "MGET" in below, spans  # the response cache, in Redis

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [access] = [line for line in lines if line.get("path") == "/clientes/1"]
    assert access["trace_id"] == CALLER_TRACE
    assert access["span_id"] == request.span_id

    exemplar = f'# {{trace_id="{CALLER_TRACE}"}}'
    assert any(
        line.startswith("fichas_http_request_duration_seconds_bucket") and exemplar in line
        for line in openmetrics.splitlines()
    ), openmetrics
