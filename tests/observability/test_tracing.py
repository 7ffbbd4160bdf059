"""Tracing's pieces on their own: off without an endpoint, request spans under the caller's
context (none of our own under a caller that did not sample, when the sampler follows it),
statement spans under the current span (and marked when a statement fails), trace ids in the log
lines of a traced call."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import StatusCode, get_current_span
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from observability.logs import configure_logging
from observability.tracing import (
    ENDPOINT_VARIABLES,
    RequestSpans,
    trace_statements,
    tracer_provider,
)


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


def _recording(sampler: Sampler | None = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
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


CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


def _request_from_caller(sampled: bool) -> dict[str, object]:
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-{'01' if sampled else '00'}"
    return {
        "method": "GET",
        "path": "/clientes/7",
        "headers": [(b"traceparent", traceparent.encode())],
    }


def test_a_request_span_is_a_child_of_the_callers_span() -> None:
    provider, exporter = _recording(ParentBased(ALWAYS_ON))
    with RequestSpans(provider).current(_request_from_caller(sampled=True), "GET") as span:
        assert get_current_span() is span
    (finished,) = exporter.get_finished_spans()
    assert finished.parent is not None
    assert format(finished.parent.span_id, "016x") == CALLER_SPAN
    assert format(finished.context.trace_id, "032x") == CALLER_TRACE


def test_under_a_caller_that_did_not_sample_the_callers_context_is_current() -> None:
    provider, exporter = _recording(ParentBased(ALWAYS_ON))
    with RequestSpans(provider).current(_request_from_caller(sampled=False), "GET") as span:
        context = get_current_span().get_span_context()
        assert not span.is_recording()
    assert exporter.get_finished_spans() == ()
    # What the log lines of the request carry: the caller's trace.
    assert (format(context.trace_id, "032x"), format(context.span_id, "016x")) == (
        CALLER_TRACE,
        CALLER_SPAN,
    )


def test_a_sampler_that_ignores_the_caller_still_decides_for_itself() -> None:
    provider, exporter = _recording(ALWAYS_ON)
    with RequestSpans(provider).current(_request_from_caller(sampled=False), "GET"):
        pass
    (finished,) = exporter.get_finished_spans()
    assert format(finished.context.trace_id, "032x") == CALLER_TRACE
