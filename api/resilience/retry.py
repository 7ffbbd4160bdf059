"""Retries of transient failures: at most two attempts, with jittered exponential backoff.

A transaction is retried whole (one that failed was rolled back, so running it again cannot
apply half of it twice). Only quick failures are retried: an attempt that failed after waiting
(SQLite's busy handler already waited ``busy_timeout`` for the lock, a server that did not
answer) would only double a wait the caller cannot afford — those fail at once and count
against the circuit breaker instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import backoff
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import NoBackoff
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from observability.metrics import Metrics

T = TypeVar("T")

# redis-py retries failed commands itself by default, waiting between tries: never for us (our
# Retry below decides, and the breaker counts).
NO_RETRY = RedisRetry(NoBackoff(), 0)


def transient_db_error(exc: BaseException) -> bool:
    """Worth trying again: lock contention, serialization failures, lost connections — not a
    constraint violation or a bad statement."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Retry:
    def __init__(
        self,
        metrics: Metrics,
        transient: Callable[[BaseException], bool],
        quick: float,
        base_delay: float = 0.05,
    ) -> None:
        """``quick``: an attempt that failed later than this many seconds is not retried."""
        self.metrics = metrics
        self.transient = transient
        self.quick = quick
        self._attempt = threading.local()  # when the current attempt started, per thread
        self._run = backoff.on_exception(
            backoff.expo,
            Exception,
            max_tries=2,
            jitter=backoff.full_jitter,
            factor=base_delay,
            giveup=self._hopeless,
            on_success=count_retries(metrics, "success"),
            on_giveup=count_retries(metrics, "exhausted"),
            logger=None,  # counted, not logged: the logs would flood during an outage
        )(self._timed)

    def __call__(self, operation: str, attempt: Callable[[], T]) -> T:
        result: T = self._run(operation, attempt)
        return result

    def _timed(self, operation: str, attempt: Callable[[], T]) -> T:
        self._attempt.started = time.monotonic()
        return attempt()

    def _hopeless(self, exc: Exception) -> bool:
        slow = time.monotonic() - self._attempt.started > self.quick
        return slow or not self.transient(exc)


def count_retries(metrics: Metrics, outcome: str) -> Callable[[Any], None]:
    """A ``backoff`` handler counting retries by operation (the target's first argument) and
    how they ended; a call that needed no retry is not counted."""

    def count(details: Any) -> None:
        if details["tries"] > 1:
            metrics.retries.labels(details["args"][0], outcome).inc()

    return count
