"""What starting a service needs, shared by ``fichas serve``, ``up``, ``migrate`` and ``backup``:
the schema brought up to date, the first admin key, an event loop."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from api.auth.keys import ensure_admin_key
from api.db import migrate
from api.db.engine import build_engine
from api.db.migrate import ensure_current
from fichas.settings import Settings

T = TypeVar("T")


def apply_migrations(settings: Settings) -> str:
    """Upgrade the configured database; a line saying what happened."""
    engine = build_engine(settings)
    try:
        before, after = migrate.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        return f"schema already at revision {after}"
    return f"schema migrated from {before or 'empty'} to {after}"


def announce_admin_key(settings: Settings) -> Path | None:
    """Create the first admin key on an empty database; show it, once, on a terminal. The file
    it went to (a new one: an older key file is never overwritten), or None if keys existed."""
    engine = build_engine(settings)
    try:
        ensure_current(engine)
        path = ensure_admin_key(engine, settings.data_dir)
    finally:
        engine.dispose()
    if path is None:
        return None
    # A terminal is a person; anything else (a pipe, a file) is a log stream that a shipper,
    # the journal or `docker compose logs` keeps and shows, where a secret must never go.
    if sys.stdout.isatty():
        token = path.read_text().strip()
        print(
            f"created the first admin key (shown once, also saved in {path}):\n  {token}",
            flush=True,
        )
    else:
        print(
            f"created the first admin key, saved in {path} (readable by this user only)",
            flush=True,
        )
    return path


def event_loop_runner(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop (asyncio's own loop where uvloop does not exist, e.g. Windows)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
