"""Traces (OpenTelemetry), set up explicitly for each app rather than by auto-instrumentation,
which patches libraries process-wide and misbehaves in multi-process servers.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is set: spans
go there over OTLP/HTTP in batches, off the request path. Otherwise no provider is built and
nothing is traced, at no cost. The standard variables tune it: ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` the sampling (default: follow the caller's decision, else sample
everything; e.g. ``parentbased_traceidratio`` and ``0.1``), ``OTEL_SERVICE_NAME`` the name.

Spans: one per request (``observability/requests.py``, named after the route template and
parented on the ``traceparent`` the proxy sends), one per database statement of a sampled request
(here, on the app's own engine: the library's instrumentor would also patch ``create_engine`` for
every engine the process builds, and costs every statement its event dispatch), one per Redis
command (the library's per-client instrumentation).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Tracer, get_current_span
from redis.asyncio import Redis
from sqlalchemy import Engine

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


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
    """A client span around every statement ``engine`` sends inside a sampled request, its child.

    The three execute methods of this engine's own dialect object are wrapped. SQLAlchemy's
    cursor events could say the same, but once an engine has listeners every statement pays
    their dispatch (~10 µs here), sampled or not; an unsampled statement pays one check here."""
    dialect = engine.dialect
    for name in ("do_execute", "do_executemany", "do_execute_no_params"):
        setattr(dialect, name, _traced(getattr(dialect, name), tracer, dialect.name))


def _traced(execute: Callable[..., Any], tracer: Tracer, system: str) -> Callable[..., Any]:
    @functools.wraps(execute)
    def traced(cursor: Any, statement: str, *rest: Any) -> Any:
        if not get_current_span().is_recording():
            return execute(cursor, statement, *rest)
        operation = (statement.split(None, 1) or ["SQL"])[0].upper()
        attributes = {
            "db.system.name": system,
            "db.operation.name": operation,
            "db.query.text": statement,
        }
        # A failing statement ends its span with the exception recorded and status ERROR.
        with tracer.start_as_current_span(
            f"{operation} {system}", kind=SpanKind.CLIENT, attributes=attributes
        ):
            return execute(cursor, statement, *rest)

    return traced


def trace_redis(client: Redis, provider: TracerProvider) -> None:
    """A client span for every command ``client`` sends."""
    RedisInstrumentor.instrument_client(client, tracer_provider=provider)
