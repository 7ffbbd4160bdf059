"""Logs as one JSON object per line on stdout, from every process: what a log shipper (Loki,
the journal) can index without parsing prose. Each line has ``time``, ``level``, ``logger``,
``message``, the process's ``instance`` and whatever the call passed in ``extra`` (for the
access log: request_id, method, route, status, duration_ms, key)."""

from __future__ import annotations

import logging
import sys

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
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # fichas says what migrate did
