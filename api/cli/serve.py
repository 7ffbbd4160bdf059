"""``fichas serve``: run one API instance (Hypercorn on uvloop)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from api.app import create_app
from api.auth.keys import ensure_admin_key
from api.cli.migrate import apply_migrations
from api.db.engine import build_engine
from api.db.migrate import ensure_current
from api.settings import Settings, load_settings
from observability.logs import configure_logging

T = TypeVar("T")


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("serve", help="run one API instance")
    parser.add_argument("--listen", help="host:port (default: FICHAS_LISTEN or 127.0.0.1:8000)")
    parser.add_argument(
        "--migrate", action="store_true", help="apply pending migrations before serving"
    )
    parser.set_defaults(run=run)


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


async def _serve(settings: Settings) -> None:
    config = Config()
    config.bind = [settings.listen]
    config.accesslog = None  # one access log, the application's (observability/requests.py)
    config.errorlog = logging.getLogger("hypercorn.error")  # a Logger: Hypercorn adds no handler
    config.graceful_timeout = 10
    config.include_server_header = False  # say nothing about what runs here
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(settings)
    # Everything built so far (modules, the app, its tables and schemas) lives as long as the
    # process: move it out of the collector's sight, so that a full collection no longer walks
    # it. Measured: POST /pedidos p99 72 -> 24 ms, and -14 % CPU per request (BENCHMARKS.md).
    gc.collect()
    gc.freeze()
    # The database writer thread, which on SQLite holds the write lock of every instance while
    # it works, must take the GIL back from the event loop for each statement; by default the
    # loop keeps it up to 5 ms each time. Measured at 25 PCs: p99 232 -> 191 ms, req/s alike.
    sys.setswitchinterval(0.0005)
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def event_loop_runner(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop (asyncio's own loop where uvloop does not exist, e.g. Windows)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run(args: argparse.Namespace) -> int:
    overrides = {"listen": args.listen} if args.listen else {}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.instance)
    if args.migrate:
        print(apply_migrations(settings), flush=True)
    announce_admin_key(settings)
    print(f"fichas serving on http://{settings.listen} (Ctrl+C to stop)", flush=True)
    event_loop_runner(_serve(settings))
    return 0
