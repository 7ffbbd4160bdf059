"""Logs on stdout from every process: for a person at a terminal, one short aligned line per
event, coloured by level; for machines (journald, Docker, Loki), one JSON object per line, which a
shipper can index without parsing prose. ``FICHAS_LOG_FORMAT`` chooses; by default the first when
stdout is a terminal, the second when it is not.

A JSON line has ``time``, ``level``, ``logger``, ``message``, the process's ``instance``,
``trace_id`` and ``span_id`` inside a traced request, and whatever the call passed in ``extra``
(for the access log: request_id, method, route, status, duration_ms, key).

Hand-written console formatter rather than a library's: twenty lines, and the supervisor, the
instances and the backup job must print the same columns (rich's handler wraps and pads for a
terminal of its own).
"""

from __future__ import annotations

import logging
import sys
from typing import ClassVar

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

ACCESS = logging.getLogger("fichas.access")


def console_wanted(log_format: str) -> bool:
    """Whether ``log_format`` (auto, console, json) means lines for people, here."""
    return log_format == "console" or (log_format == "auto" and sys.stdout.isatty())


def configure_logging(level: str, instance: str, log_format: str = "json") -> None:
    """Replace any earlier configuration: lines on stdout at ``level``, as ``log_format`` says."""
    handler = logging.StreamHandler(sys.stdout)
    if console_wanted(log_format):
        handler.setFormatter(ConsoleFormatter(instance))
    else:
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


class ConsoleFormatter(logging.Formatter):
    """``api-2        20:14:03 INFO    GET /clientes 200 3.1 ms``: the process first (the lines
    of every process meet in one terminal), the time, the level (coloured from warning up), the
    message, and a request's duration."""

    COLOURS: ClassVar[dict[str, str]] = {
        "DEBUG": "\x1b[2m",
        "WARNING": "\x1b[33m",
        "ERROR": "\x1b[31m",
        "CRITICAL": "\x1b[1;31m",
    }

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        colour = self.COLOURS.get(record.levelname)
        level = f"{record.levelname:<8}"
        if colour is not None:
            level = f"{colour}{level}\x1b[0m"
        line = (
            f"{self.instance:<13}{self.formatTime(record, '%H:%M:%S')} {level}{record.getMessage()}"
        )
        if (duration := getattr(record, "duration_ms", None)) is not None:
            line += f" {duration:.1f} ms"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _with_trace_context(record: logging.LogRecord) -> bool:
    """Add the current span's ``trace_id`` and ``span_id`` (when tracing is on), so a log line
    leads to its trace and back."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        record.trace_id = format(context.trace_id, "032x")
        record.span_id = format(context.span_id, "016x")
    return True
