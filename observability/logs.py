"""Logs as one JSON object per line on stdout, from every process: what a log shipper (Loki,
the journal) can index without parsing prose. Each line has ``time``, ``level``, ``logger``,
``message``, the process's ``instance``, ``trace_id`` and ``span_id`` inside a traced request, and
whatever the call passed in ``extra`` (for the access log: request_id, method, route, status,
duration_ms, key)."""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

ACCESS = logging.getLogger("fichas.access")


def configure_logging(level: str, instance: str) -> None:
    """Replace any earlier configuration: JSON lines on stdout at ``level``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"instance": instance},
            json_ensure_ascii=False,
        )
    )
    handler.addFilter(_with_trace_context)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # fichas says what migrate did


def _with_trace_context(record: logging.LogRecord) -> bool:
    """Add the current span's ``trace_id`` and ``span_id`` (when tracing is on), so a log line
    leads to its trace and back."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        record.trace_id = format(context.trace_id, "032x")
        record.span_id = format(context.span_id, "016x")
    return True
