"""Tracing's pieces on their own: off without an endpoint, statement spans under the current
span (and marked when a statement fails), trace ids in the log lines of a traced call."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from observability.logs import configure_logging
from observability.tracing import ENDPOINT_VARIABLES, trace_statements, tracer_provider


def test_without_an_endpoint_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert tracer_provider("api-1") is None


def test_an_endpoint_turns_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    provider = tracer_provider("api-7")
    assert provider is not None
    assert provider.resource.attributes["service.instance.id"] == "api-7"
    provider.shutdown()


def _recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_each_statement_is_a_child_span_of_the_current_one() -> None:
    provider, exporter = _recording()
    tracer = provider.get_tracer("test")
    engine = create_engine("sqlite://")
    trace_statements(engine, tracer)
    with tracer.start_as_current_span("request") as request, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT * FROM nowhere"))
    statements = [span for span in exporter.get_finished_spans() if span.name != "request"]
    assert [span.name for span in statements] == ["SELECT sqlite", "SELECT sqlite"]
    request_id = request.get_span_context().span_id
    assert all(span.parent and span.parent.span_id == request_id for span in statements)
    assert statements[0].status.status_code == StatusCode.UNSET
    assert statements[1].status.status_code == StatusCode.ERROR
    assert statements[1].attributes is not None
    assert statements[1].attributes["db.query.text"] == "SELECT * FROM nowhere"


def test_statements_outside_a_sampled_request_make_no_spans() -> None:
    provider, exporter = _recording()
    engine = create_engine("sqlite://")
    trace_statements(engine, provider.get_tracer("test"))
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # no current span: start-up work, say
    assert exporter.get_finished_spans() == ()


def test_log_lines_carry_the_trace_they_were_written_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "api-1")
    provider, _ = _recording()
    log = logging.getLogger("fichas.test")
    with provider.get_tracer("test").start_as_current_span("request") as span:
        log.info("inside")
    log.info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside
