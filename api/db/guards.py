"""The guards around each dependency, built from Settings: breakers, retries, time budgets."""

from __future__ import annotations

from api.db.gateway import DatabaseTimeout, Guards
from api.resilience.breaker import Breaker
from api.resilience.retry import Retry, transient_db_error
from fichas.settings import Settings
from observability.metrics import Metrics


def _database_failure(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseTimeout) or transient_db_error(exc)


def database_guards(settings: Settings, metrics: Metrics) -> Guards:
    # The budget: SQLite's busy timeout (how long a writer waits for the lock), plus a second
    # for the queue in front of this instance's database threads.
    wait = settings.db_busy_timeout_ms / 1000 + 1.0

    def breaker(name: str) -> Breaker:
        return Breaker(
            name,
            metrics,
            _database_failure,
            threshold=settings.breaker_threshold,
            cooldown=settings.breaker_cooldown_seconds,
        )

    return Guards(
        reads=breaker("database-read"),
        writes=breaker("database-write"),
        retry=Retry(metrics, transient_db_error, quick=min(0.5, wait / 4)),
        wait=wait,
    )
