"""The async face of the database: run data-access functions off the event loop.

Data-access functions are plain synchronous functions taking a Connection. They run on a small
dedicated thread pool: measured here, Starlette's default 40-thread pool tripled latency through
GIL contention, while a pool sized like the connection pool keeps the loop responsive.
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
    def __init__(self, engine: Engine, threads: int) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fichas-db")

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` in a read transaction (a consistent snapshot for multi-statement reads)."""
        return await self._run(self.engine, fn, *args, **kwargs)

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` in one write transaction: committed whole if it returns, else rolled back."""
        return await self._run(self._writer, fn, *args, **kwargs)

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())

    async def _run(
        self,
        engine: Engine,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        def transaction() -> T:
            with engine.begin() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, transaction)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()
