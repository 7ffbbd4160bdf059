"""The async face of the database: run data-access functions off the event loop.

Data-access functions are plain synchronous functions taking a Connection. They run on small
dedicated thread pools, not Starlette's default 40-thread pool: measured here, that many threads
tripled latency through GIL contention (docs/BENCHMARKS.md).

Reads and writes have separate pools. On SQLite, where writes are serialised by the file's write
lock anyway, one writer thread per process makes this process's writes queue in order instead of
polling the lock in SQLite's busy handler (sleeps of up to 100 ms), and a write waiting on another
process's lock never holds up reads.

SQLite reads run on the event loop itself: in WAL mode a reader never waits for a lock, and a
read of a few rows takes tens of microseconds, less than handing it to a thread and taking the GIL
back (measured: p99 latency 63-80 ms through a thread, 27 ms inline; docs/BENCHMARKS.md). The
price: a long scan holds the loop for its duration.

Each database thread keeps its own connection for good, and the loop's reads share one, rather
than taking one from the pool per call: the threads are few and fixed, and a checkout and return
cost more than many of the statements they wrap.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from api.db.engine import WRITE

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    def __init__(self, engine: Engine, *, read_threads: int, write_threads: int) -> None:
        """``read_threads=0`` runs reads on the event loop (for SQLite, see above)."""
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._writers = ThreadPoolExecutor(write_threads, thread_name_prefix="fichas-db-write")
        self._readers = (
            ThreadPoolExecutor(read_threads, thread_name_prefix="fichas-db-read")
            if read_threads
            else None
        )
        self._per_thread = threading.local()  # for the pools' threads
        self._on_loop = SimpleNamespace()  # for reads on the loop (whichever thread runs it)
        self._opened: set[Connection] = set()
        self._opened_lock = threading.Lock()

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` to read: on SQLite each statement sees the latest commit (no BEGIN: a
        transaction around single-statement reads measured a fifth of their cost)."""
        if self._readers is None:
            return self._transaction(self._on_loop, self.engine, fn, *args, **kwargs)
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
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            executor, lambda: self._transaction(self._per_thread, engine, fn, *args, **kwargs)
        )

    def _transaction(
        self,
        holder: Any,
        engine: Engine,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``fn`` in a transaction on the connection ``holder`` keeps (opened on first use)."""
        conn: Connection | None = getattr(holder, "connection", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = holder.connection = self._open(engine, replacing=conn)
        with conn.begin():
            return fn(conn, *args, **kwargs)

    def _open(self, engine: Engine, replacing: Connection | None) -> Connection:
        conn = engine.connect()
        with self._opened_lock:
            if replacing is not None:
                self._opened.discard(replacing)
                replacing.close()
            self._opened.add(conn)
        return conn

    def close(self) -> None:
        if self._readers is not None:
            self._readers.shutdown(wait=True)
        self._writers.shutdown(wait=True)
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self.engine.dispose()
