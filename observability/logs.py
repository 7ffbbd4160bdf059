"""Logs on stdout from every process: for a person at a terminal, one short aligned line per
event, coloured by level; for machines (journald, Docker, Loki), one JSON object per line, which a
shipper can index without parsing prose. ``FICHAS_LOG_FORMAT`` chooses; by default the first when
stdout is a terminal, the second when it is not.

A JSON line has ``time``, ``level``, ``logger``, ``message``, the process's ``instance``,
``trace_id`` and ``span_id`` inside a traced request, and whatever the call passed in ``extra``
(for the access log: request_id, method, route, status, duration_ms, key).

Both formatters are hand-written. The console one because the supervisor, the instances and the
backup job must print the same columns (rich's handler wraps and pads for a terminal of its own);
the JSON one because it is written once per request: python-json-logger, which it replaced,
spent three times as long per access line finding and renaming fields, and the line is encoded
by msgspec (docs/BENCHMARKS.md, issue 21). Records are made without the caller's file and line,
which no line shows.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import ClassVar, TextIO

import msgspec
from opentelemetry import trace

ACCESS = logging.getLogger("fichas.access")


def console_wanted(log_format: str) -> bool:
    """Whether ``log_format`` (auto, console, json) means lines for people, here."""
    return log_format == "console" or (log_format == "auto" and sys.stdout.isatty())


def configure_logging(level: str, instance: str, log_format: str = "json") -> None:
    """Replace any earlier configuration: lines on stdout at ``level``, as ``log_format`` says."""
    global _json_handler
    handler = logging.StreamHandler(sys.stdout)
    formatter = ConsoleFormatter if console_wanted(log_format) else JsonFormatter
    handler.setFormatter(formatter(instance))
    _json_handler = handler if formatter is JsonFormatter else None
    handler.addFilter(_with_trace_context)
    # What a record costs beyond its message: the caller's frame (the logging HOWTO's
    # "Optimization" names this switch), thread and process names. No line shows them.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # fichas says what migrate did


class _CachedTime(logging.Formatter):
    """``formatTime`` as logging's default (``2026-12-06 14:03:27,512``), the part down to the
    second formatted once per second rather than once per line."""

    _second = -1
    _until_second = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.clock(record.created)

    def clock(self, created: float) -> str:
        """``created`` (seconds since the epoch) as ``formatTime`` writes it."""
        second = int(created)
        if second != self._second:
            self._until_second = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._second = second
        return f"{self._until_second},{int((created - second) * 1000):03d}"


# What every record has; anything else on a record came in ``extra`` and goes in the line.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(_CachedTime):
    """``{"time": …, "level": …, "logger": …, "message": …, "instance": …, <extra>…}``, with
    ``exc_info`` (the traceback) when there is one."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line = self.start(record.created, record.levelname, record.name, record.getMessage())
        line.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return _encode(line).decode()

    def start(self, created: float, level: str, logger: str, message: str) -> dict[str, object]:
        """What every line begins with."""
        return {
            "time": self.clock(created),
            "level": level,
            "logger": logger,
            "message": message,
            "instance": self.instance,
        }


# The JSON handler configure_logging installed: while it is the root's only one, the access log
# writes to it directly (``access``).
_json_handler: logging.StreamHandler[TextIO] | None = None


def access(level: int, message: str, fields: dict[str, object]) -> None:
    """One access-log line, at ``level`` (the caller has checked that ACCESS logs it).

    Written once per request: with JSON lines on stdout as configure_logging set them up, the
    line is encoded and written straight to that handler's stream, the same bytes a record
    would give, without making and passing a LogRecord through the logger's and handler's
    machinery (which measured as much again as encoding the line; docs/BENCHMARKS.md, issue
    21). Any other configuration — console lines, a handler added (pytest's caplog), a filter
    on the access logger — gets a record as usual."""
    handler = _json_handler
    root = logging.root.handlers
    if handler is None or len(root) != 1 or root[0] is not handler or ACCESS.filters:
        ACCESS.log(level, message, extra=fields)
        return
    formatter = handler.formatter
    assert isinstance(formatter, JsonFormatter)
    line = formatter.start(time.time(), logging.getLevelName(level), ACCESS.name, message)
    line.update(fields)
    line.update(_trace_fields())
    text = _encode(line).decode() + handler.terminator
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.stream.flush()
    except Exception:  # a closed or full stream: logging reports it its own way
        ACCESS.log(level, message, extra=fields)
    finally:
        handler.release()


def _as_text(value: object) -> str:
    """An ``extra`` value JSON has no type for: as ``str`` gives it (msgspec writes dates as
    ISO 8601 itself)."""
    return str(value)


# msgspec rather than the standard library's json: a tenth of the time for an access line.
_encode = msgspec.json.Encoder(enc_hook=_as_text).encode


class ConsoleFormatter(_CachedTime):
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
    record.__dict__.update(_trace_fields())
    return True


def _trace_fields() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }
