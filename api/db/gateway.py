"""The async face of the database: run data-access functions off the event loop.

Data-access functions are plain synchronous functions taking a Connection. They run on small
dedicated thread pools, not Starlette's default 40-thread pool: measured here, that many threads
tripled latency through GIL contention (docs/BENCHMARKS.md).

Reads and writes have separate pools. On SQLite, where writes are serialised by the file's write
lock anyway, one writer thread per process makes this process's writes queue in order instead of
polling the lock in SQLite's busy handler (sleeps of up to 100 ms), and a write waiting on another
process's lock never holds up reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from api.db.engine import WRITE

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    def __init__(self, engine: Engine, read_threads: int, write_threads: int) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="fichas-db-read")
        self._writers = ThreadPoolExecutor(write_threads, thread_name_prefix="fichas-db-write")

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` to read: on SQLite each statement sees the latest commit (no BEGIN: a
        transaction around single-statement reads measured a fifth of their cost)."""
        return await self._run(self._readers, self.engine, fn, *args, **kwargs)

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` in one write transaction: committed whole if it returns, else rolled back."""
        return await self._run(self._writers, self._writer, fn, *args, **kwargs)

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())

    async def _run(
        self,
        executor: ThreadPoolExecutor,
        engine: Engine,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        def transaction() -> T:
            with engine.begin() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(executor, transaction)

    def close(self) -> None:
        self._readers.shutdown(wait=True)
        self._writers.shutdown(wait=True)
        self.engine.dispose()
