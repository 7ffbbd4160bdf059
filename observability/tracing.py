"""Traces (OpenTelemetry), set up explicitly for each app rather than by auto-instrumentation,
which patches libraries process-wide and misbehaves in multi-process servers.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is set: spans
go there over OTLP/HTTP in batches, off the request path. Otherwise no provider is built and
nothing is traced, at no cost. The standard variables tune it: ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` the sampling (default: follow the caller's decision, else sample
everything; e.g. ``parentbased_traceidratio`` and ``0.1``), ``OTEL_SERVICE_NAME`` the name.

Spans: one per request (``RequestSpans``, used by ``observability/requests.py``, which names it
after the route template), parented on the ``traceparent`` the proxy sends; one per database
statement of a sampled request (here, on the app's own engine: the library's instrumentor would
also patch ``create_engine`` for every engine the process builds, and costs every statement its
event dispatch); one per Redis command (the library's per-client instrumentation).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from opentelemetry.context import attach, detach
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import Span, SpanKind, Tracer, get_current_span, set_span_in_context
from redis.asyncio import Redis
from sqlalchemy import Engine
from starlette.types import Scope

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})


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


class RequestSpans:
    """The server span of each request, parented on the caller's ``traceparent``."""

    def __init__(self, provider: TracerProvider) -> None:
        self.tracer = provider.get_tracer("fichas")
        # A parent-based sampler (the default; every ``parentbased_*`` setting) records nothing
        # under a caller that did not sample, so such a request needs no span of its own: the
        # caller's context is made current instead (log lines still carry its trace id). At
        # 10 % sampling that is nine requests in ten, each spared the SDK's span machinery.
        self.follows_caller = isinstance(provider.sampler, ParentBased)

    def current(self, scope: Scope, method: str) -> _Current:
        """The request's span, current inside the block; named by ``method`` until the router
        has found the route."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in TRACE_HEADERS
        }
        parent = extract(carrier)
        caller = get_current_span(parent)
        decided = caller.get_span_context()
        if self.follows_caller and decided.is_valid and not decided.trace_flags.sampled:
            return _Current(caller)
        attributes = {"http.request.method": scope["method"], "url.path": scope["path"]}
        span = self.tracer.start_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        return _Current(span)


class _Current:
    """``span`` is the current span inside the block, and ends with it (an exception that
    escapes is recorded on it). The SDK's ``start_as_current_span`` does the same through
    generator-based context managers that cost, measured, as much as an unsampled span."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def __enter__(self) -> Span:
        self.token = attach(set_span_in_context(self.span))
        return self.span

    def __exit__(self, *exc_info: Any) -> None:
        detach(self.token)
        self.span.__exit__(*exc_info)


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
        # A leaf: started and ended without becoming the current span, whose attach and
        # detach would be a fifth of its cost. A failing statement ends it with the exception
        # recorded and status ERROR.
        span = tracer.start_span(
            f"{operation} {system}", kind=SpanKind.CLIENT, attributes=attributes
        )
        with span:
            return execute(cursor, statement, *rest)

    return traced


def trace_redis(client: Redis, provider: TracerProvider) -> None:
    """A client span for every command ``client`` sends."""
    RedisInstrumentor.instrument_client(client, tracer_provider=provider)
