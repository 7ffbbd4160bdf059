"""Traces (OpenTelemetry), set up explicitly for each app rather than by auto-instrumentation,
which patches libraries process-wide and misbehaves in multi-process servers.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is set: spans
go there over OTLP/HTTP in batches, off the request path. Otherwise no provider is built and
nothing is traced, at no cost. The standard variables tune it: ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` the sampling (default: follow the caller's decision, else sample
everything; e.g. ``parentbased_traceidratio`` and ``0.1``), ``OTEL_SERVICE_NAME`` the name.

Spans: one per request (``observability/requests.py``, named after the route template and
parented on the ``traceparent`` the proxy sends), one per database statement (here: SQLAlchemy
events on the app's own engine — the library's instrumentor would also patch ``create_engine``
for every engine the process ever builds), one per Redis command (the library's per-client
instrumentation).
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, get_current_span
from redis.asyncio import Redis
from sqlalchemy import Engine, event

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SPAN = "fichas.span"  # where a statement's span waits, in SQLAlchemy's execution context


def tracing_configured() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def tracer_provider(instance: str) -> TracerProvider | None:
    """A provider exporting to the configured OTLP endpoint, or None when none is."""
    if not tracing_configured():
        return None
    service = os.environ.get("OTEL_SERVICE_NAME", "fichas-api")
    resource = Resource.create({"service.name": service, "service.instance.id": instance})
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER*
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def trace_statements(engine: Engine, tracer: Tracer) -> None:
    """A client span for every statement ``engine`` runs inside a sampled span, its child."""
    system = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def start(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if not get_current_span().is_recording():
            return  # outside a sampled request: no span, and no cost beyond this test
        operation = (statement.split(None, 1) or ["SQL"])[0].upper()
        span = tracer.start_span(
            f"{operation} {system}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": system,
                "db.operation.name": operation,
                "db.query.text": statement,
            },
        )
        setattr(context, SPAN, span)

    @event.listens_for(engine, "after_cursor_execute")
    def end(_conn: Any, _cursor: Any, _statement: str, _p: Any, context: Any, _m: Any) -> None:
        span = getattr(context, SPAN, None)
        if span is not None:
            span.end()

    @event.listens_for(engine, "handle_error")
    def fail(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, SPAN, None)
        if span is not None:
            span.record_exception(exception_context.original_exception)
            span.set_status(Status(StatusCode.ERROR))
            span.end()


def trace_redis(client: Redis, provider: TracerProvider) -> None:
    """A client span for every command ``client`` sends."""
    RedisInstrumentor.instrument_client(client, tracer_provider=provider)
