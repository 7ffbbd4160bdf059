"""The async face of the database: run data-access functions off the event loop.

Data-access functions are plain synchronous functions taking a Connection. They run on small
dedicated thread pools, not Starlette's default 40-thread pool: measured here, that many threads
tripled latency through GIL contention (docs/BENCHMARKS.md).

Reads and writes have separate pools. On SQLite, where writes are serialised by the file's write
lock anyway, one writer thread per process makes this process's writes queue in order instead of
polling the lock in SQLite's busy handler (sleeps of up to 100 ms), and a write waiting on another
process's lock never holds up reads; the processes' writers queue on a ``WriteLock`` (see there).

SQLite reads run on the event loop itself: in WAL mode a reader never waits for a lock, and a
read of a few rows takes tens of microseconds, less than handing it to a thread and taking the GIL
back (measured: p99 latency 63-80 ms through a thread, 27 ms inline; docs/BENCHMARKS.md). The
price: a long scan holds the loop for its duration.

SQLite writes run on the loop too when nothing would make them wait: the process's write lock
free at once (``WriteLock.try_acquire``), and SQLite's own lock too — the loop's writing
connection has no busy timeout, so a ``BEGIN IMMEDIATE`` that meets a writer from outside the
instances' queue (the CLI, a restore, Litestream) fails at once. Otherwise, or when the
transaction fails for a reason of the database's (rolled back whole), it goes to the writer
thread, which queues, retries and reports to the breaker as before. On the loop a write skips
the hand-off to the thread and back, and holds the file's lock no longer than it runs: through
the thread, it held the lock while waiting for the GIL the loop had (issue 21: the old system's
mix 0.93 -> 0.85 ms of CPU per request, POST /pedidos p99 81 -> 69 ms; docs/BENCHMARKS.md).
What a write on the loop costs the loop is its own length: a few statements for the API's, a
few milliseconds for the idempotency pruning's batch of 500 deletions (once a minute), and for a
commit that reaches SQLite's automatic checkpoint, that checkpoint.

Each database thread keeps its own connection for good, and the loop's reads share one, rather
than taking one from the pool per call: the threads are few and fixed, and a checkout and return
cost more than many of the statements they wrap.

Every call passes a circuit breaker (reads and writes each their own: a locked SQLite file stops
writes, not reads) and may wait ``Guards.wait`` seconds in all, queue included; transactions on
the threads are retried once on a quick transient failure. When the database cannot answer, the
caller gets ``DatabaseUnavailable`` (a 503) at once rather than a long wait. Reads on the loop are
not retried: a WAL reader never waits for a lock, and a backoff there would stall the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from prometheus_client import Histogram
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from api.db.engine import begin_writing
from api.db.writelock import WriteLock
from api.resilience.breaker import Breaker, CircuitOpen
from api.resilience.retry import Retry, transient_db_error

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The database cannot answer now; try again in ``retry_after`` seconds."""

    def __init__(self, reason: str, retry_after: float = 1.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class DatabaseTimeout(Exception):
    """A call waited longer than its budget (queue included) for the database."""


@dataclass(frozen=True)
class Guards:
    reads: Breaker
    writes: Breaker
    retry: Retry
    wait: float  # seconds a call may wait for the database in all


class Database:
    def __init__(
        self,
        engine: Engine,
        *,
        read_threads: int,
        write_threads: int,
        guards: Guards,
        durations: Histogram,
        write_lock: WriteLock | None = None,
    ) -> None:
        """``read_threads=0`` runs reads on the event loop (for SQLite, see above);
        ``durations`` (labelled by access: read or write) times every call, queue included;
        ``write_lock``, if any, is held around every write transaction."""
        self.engine = engine
        self.guards = guards
        self._write_lock = write_lock
        self._read_time, self._write_time = durations.labels("read"), durations.labels("write")
        self._writers = ThreadPoolExecutor(write_threads, thread_name_prefix="fichas-db-write")
        self._readers = (
            ThreadPoolExecutor(read_threads, thread_name_prefix="fichas-db-read")
            if read_threads
            else None
        )
        self._per_thread = threading.local()  # for the pools' threads
        self._on_loop = SimpleNamespace()  # for reads on the loop (whichever thread runs it)
        self._loop_writer = SimpleNamespace(busy_timeout_ms=0)  # for writes on the loop
        self._opened: set[Connection] = set()
        self._opened_lock = threading.Lock()

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` to read: on SQLite each statement sees the latest commit (no BEGIN: a
        transaction around single-statement reads measured a fifth of their cost)."""
        if self._readers is None:
            with self._read_time.time(), _unavailable(self.guards.reads):
                return fn(self._connection(self._on_loop), *args, **kwargs)
        with self._read_time.time():
            return await self._run(
                self._readers, False, nullcontext(), self.guards.reads, "db.read",
                fn, *args, **kwargs,
            )  # fmt: skip

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` in one write transaction: committed whole if it returns, else rolled back."""
        with self._write_time.time():
            if self._write_lock is not None and self.guards.writes.state == "closed":
                written, result = self._write_on_loop(self._write_lock, fn, *args, **kwargs)
                if written:
                    return cast(T, result)
            return await self._run(
                self._writers, True, self._write_lock or nullcontext(), self.guards.writes,
                "db.write", fn, *args, **kwargs,
            )  # fmt: skip

    def _write_on_loop(
        self,
        lock: WriteLock,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> tuple[bool, T | None]:
        """``fn``'s transaction, here, if nothing makes it wait: (True, its result), else
        (False, None) with nothing written. An error of ``fn``'s own (a conflict, a constraint)
        is raised, as the thread would raise it. The breaker is left to judge the writes that
        reach the thread: only they wait, retry and fail."""
        if not lock.try_acquire():
            return False, None
        try:
            conn = self._connection(self._loop_writer)
            with conn.begin():
                begin_writing(conn)
                return True, fn(conn, *args, **kwargs)
        except Exception as exc:
            if transient_db_error(exc):  # busy, or the database failing: the thread's to judge
                return False, None
            raise
        finally:
            lock.__exit__()

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())

    async def _run(
        self,
        executor: ThreadPoolExecutor,
        writing: bool,
        exclusive: AbstractContextManager[None],
        breaker: Breaker,
        operation: str,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        def attempt() -> T:
            with exclusive:
                return self._transaction(writing, fn, *args, **kwargs)

        loop = asyncio.get_running_loop()
        with _unavailable(breaker):
            # In this request's context (its trace), which the executor does not carry over.
            in_context = contextvars.copy_context().run
            work = loop.run_in_executor(executor, in_context, self.guards.retry, operation, attempt)
            try:
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for swallows a cancellation
                # that arrives as the call completes (it returns the result instead), and a task
                # being stopped — a background job at shutdown — then runs on as if never asked.
                async with asyncio.timeout(self.guards.wait):
                    return await work
            except TimeoutError:
                # A call not yet started is dropped from the queue; one running goes on.
                raise DatabaseTimeout(f"no answer within {self.guards.wait:g} s") from None

    def _transaction(
        self,
        writing: bool,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``fn`` in a transaction on this pool thread's connection."""
        with (conn := self._connection(self._per_thread)).begin():
            if writing:
                begin_writing(conn)
            return fn(conn, *args, **kwargs)

    def _connection(self, holder: Any) -> Connection:
        """The connection ``holder`` keeps, opened on first use.

        Reads on the loop use it without ``begin()``: SQLAlchemy then opens its transaction once,
        on the first statement, and keeps it. On SQLite that transaction is only bookkeeping —
        no BEGIN is sent for reads (api/db/engine.py), so each statement still sees the latest
        commit — and beginning and committing it around every read was 8 % of a page's cost."""
        conn: Connection | None = getattr(holder, "connection", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = holder.connection = self._open(replacing=conn)
            busy_timeout_ms = getattr(holder, "busy_timeout_ms", None)
            if busy_timeout_ms is not None:  # SQLite's
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                conn.commit()  # ends the transaction SQLAlchemy began for it (no BEGIN sent)
        return conn

    def _open(self, replacing: Connection | None) -> Connection:
        conn = self.engine.connect()
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
        if self._write_lock is not None:
            self._write_lock.close()


@contextmanager
def _unavailable(breaker: Breaker) -> Iterator[None]:
    """Through ``breaker``; a database that cannot answer becomes DatabaseUnavailable."""
    try:
        with breaker.guard():
            yield
    except CircuitOpen as exc:
        raise DatabaseUnavailable(str(exc), exc.retry_after) from exc
    except DatabaseTimeout as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    except Exception as exc:
        if transient_db_error(exc):
            raise DatabaseUnavailable(f"the database failed: {type(exc).__name__}") from exc
        raise
