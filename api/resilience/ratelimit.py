"""Rate limits per API key (else per client address), per class of route, with the ``limits``
library: counters shared by every instance through Redis, kept in this instance's memory while
Redis is unavailable (counted as a fallback), and in memory only when no Redis is configured.

Fixed windows rather than sliding ones: the limits sit far above what an honest PC does, and are
there to stop a runaway script, not to shape traffic precisely. In the same spirit, an instance
takes a key's large budgets from Redis a few requests at a time (a *lease*, for one second), so
that most requests are counted without a round trip: measured, one Redis call per request cost
~15 % of the throughput. Limits below ``LEASE_FROM`` per window are counted one by one, exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from api.cache.store import NO_RETRY
from api.http.problems import Problem
from api.resilience.breaker import Breaker, CircuitOpen
from observability.metrics import Metrics

LEASE, LEASE_FROM, LEASE_SECONDS = 10, 1000, 1.0


class InstanceMemory(Storage):
    """Fixed-window counters in this instance's memory, kept as limits' own ``MemoryStorage``
    keeps them (a window opens at a key's first hit), for limits' fixed-window strategy.

    Hand-written because limits' asyncio ``MemoryStorage`` starts a task on every hit that walks
    every key it holds: measured ~125 µs a hit with 2,000 keys — a thousand PCs, each with its own
    API key, where the rest of a request costs ~1 ms of CPU. Here a hit is a dict lookup, and the
    windows that ended are dropped in one sweep a second at most. Everything runs on the event
    loop without awaiting inside, so no lock is needed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, tuple[int, float]] = {}  # key → (hits, when the window ends)
        self._swept_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError  # as MemoryStorage's: nothing here talks to anything

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        if now - self._swept_at >= 1.0:
            self._swept_at = now
            self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
        hits, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            hits, ends = 0, now + expiry
        self._windows[key] = (hits + amount, ends)
        return hits + amount

    async def get(self, key: str) -> int:
        hits, ends = self._windows.get(key, (0, 0.0))
        return hits if ends > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        return self._windows.get(key, (0, time.time()))[1]

    async def check(self) -> bool:
        return True

    async def reset(self) -> int:
        cleared = len(self._windows)
        self._windows.clear()
        return cleared

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: RateLimitItem
    remaining: int
    reset_in: int  # seconds until the window ends


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, str],
        metrics: Metrics,
        redis: tuple[ConnectionPool, Breaker] | None = None,
    ) -> None:
        """``limits``: route class → "N/second|minute|hour" (the limits library's notation)."""
        self.limits = {name: parse(text) for name, text in limits.items()}
        self.metrics = metrics
        self.local = FixedWindowRateLimiter(InstanceMemory())
        # The Redis-backed limiter and the breaker it is called through, when there is Redis.
        self.shared: tuple[FixedWindowRateLimiter, Breaker] | None = None
        self.redis_client: Redis | None = None
        if redis is not None:
            pool, breaker = redis
            # The URI is a formality here: the client is built on the pool given. limits
            # documents connection_pool (the options go to redis-py) but types them narrowly.
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                connection_pool=pool,  # type: ignore[arg-type]
                retry=NO_RETRY,  # type: ignore[arg-type]
            )
            self.shared = FixedWindowRateLimiter(storage), breaker
            # The redis-py client limits built on the pool, for tracing (observability/tracing.py).
            self.redis_client = storage.bridge.storage  # type: ignore[attr-defined]
        # (route class, who) → (lease taken at, requests left in it)
        self._leases: dict[tuple[str, str], tuple[float, int]] = {}

    async def check(self, route_class: str, who: str) -> Verdict:
        limit = self.limits[route_class]
        if self.shared is not None:
            if self._from_lease(route_class, who):
                return Verdict(True, limit, 0, 0)
            shared, breaker = self.shared
            try:
                with breaker.guard():
                    if limit.amount >= LEASE_FROM and await shared.hit(limit, who, cost=LEASE):
                        self._leases[(route_class, who)] = (time.monotonic(), LEASE - 1)
                        return Verdict(True, limit, 0, 0)
                    # No lease (a small limit, or too little left for one): one by one.
                    return await self._verdict(shared, limit, who)
            except (CircuitOpen, RedisError, OSError, TimeoutError):
                self.metrics.rate_limit_fallbacks.inc()
        return await self._verdict(self.local, limit, who)

    def _from_lease(self, route_class: str, who: str) -> bool:
        """Count the request against a lease still running; whether there was one."""
        key = (route_class, who)
        taken_at, left = self._leases.get(key, (0.0, 0))
        if left and time.monotonic() - taken_at < LEASE_SECONDS:
            self._leases[key] = (taken_at, left - 1)
            return True
        self._leases.pop(key, None)
        return False

    async def _verdict(
        self, limiter: FixedWindowRateLimiter, limit: RateLimitItem, who: str
    ) -> Verdict:
        if await limiter.hit(limit, who):
            return Verdict(True, limit, 0, 0)  # the figures only matter to a refusal
        stats = await limiter.get_window_stats(limit, who)
        reset_in = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(False, limit, stats.remaining, reset_in)

    def refuse(self, route_class: str, verdict: Verdict, route: str) -> Problem:
        """The 429, with the IETF draft's RateLimit-Policy and RateLimit fields."""
        self.metrics.rate_limited.labels(route).inc()
        window = verdict.limit.get_expiry()
        return Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"at most {verdict.limit.amount} {route_class} requests per {window} s for one "
            f"key; try again in {verdict.reset_in} s",
            headers={
                "RateLimit-Policy": f'"{route_class}";q={verdict.limit.amount};w={window}',
                "RateLimit": f'"{route_class}";r={verdict.remaining};t={verdict.reset_in}',
                "Retry-After": str(verdict.reset_in),
            },
        )
