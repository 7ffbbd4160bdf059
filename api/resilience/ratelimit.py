"""Rate limits per API key (else per client address), per class of route, with the ``limits``
library: counters shared by every instance through Redis, kept in this instance's memory while
Redis is unavailable (counted as a fallback), and in memory only when no Redis is configured —
then each instance counts alone, and a client whose requests the proxy spreads over N instances
may make up to N times the limit (a 429 says which way it was counted).

Fixed windows rather than sliding ones: the limits sit far above what an honest PC does, and are
there to stop a runaway script, not to shape traffic precisely. In the same spirit, an instance
takes a key's large budgets from Redis a few requests at a time (a *lease*, for one second), so
that most requests are counted without a round trip: measured, one Redis call per request cost
~15 % of the throughput. Limits below ``LEASE_FROM`` per window are counted one by one, exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from api.http.problems import Problem
from api.resilience.breaker import Breaker, CircuitOpen
from api.resilience.retry import NO_RETRY
from observability.metrics import Metrics

LEASE, LEASE_FROM, LEASE_SECONDS = 10, 1000, 1.0
AUTH_FAILURES = "auth-failures"  # per client address: requests refused 401 (api/auth/guard.py)


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
    shared: bool  # counted in Redis for every instance, not in this instance's memory


Counting = Callable[[FixedWindowRateLimiter, bool], Awaitable[Verdict]]


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
        """Count one request of ``who``'s; whether it was within the limit."""
        limit = self.limits[route_class]
        if self.shared is not None and self._from_lease(route_class, who):
            return Verdict(True, limit, 0, 0, shared=True)

        async def hit(limiter: FixedWindowRateLimiter, shared: bool) -> Verdict:
            leasing = shared and limit.amount >= LEASE_FROM
            if leasing and await limiter.hit(limit, route_class, who, cost=LEASE):
                self._leases[(route_class, who)] = (time.monotonic(), LEASE - 1)
                return Verdict(True, limit, 0, 0, shared=True)
            # No lease (a small limit, or too little left for one): one by one.
            return await _verdict(limiter, shared, limit, route_class, who, count=True)

        return await self._counting(hit)

    async def test(self, route_class: str, who: str) -> Verdict:
        """Whether one more of ``who``'s would be within the limit, counting nothing (for a
        limit on failures, counted only once they have failed)."""
        limit = self.limits[route_class]

        async def peek(limiter: FixedWindowRateLimiter, shared: bool) -> Verdict:
            return await _verdict(limiter, shared, limit, route_class, who, count=False)

        return await self._counting(peek)

    async def _counting(self, counting: Counting) -> Verdict:
        """``counting`` done in Redis when there is one that answers, else in memory."""
        if self.shared is not None:
            shared, breaker = self.shared
            try:
                with breaker.guard():
                    return await counting(shared, True)
            except (CircuitOpen, RedisError, OSError, TimeoutError):
                self.metrics.rate_limit_fallbacks.inc()
        return await counting(self.local, False)

    def _from_lease(self, route_class: str, who: str) -> bool:
        """Count the request against a lease still running; whether there was one."""
        key = (route_class, who)
        taken_at, left = self._leases.get(key, (0.0, 0))
        if left and time.monotonic() - taken_at < LEASE_SECONDS:
            self._leases[key] = (taken_at, left - 1)
            return True
        self._leases.pop(key, None)
        return False

    def refuse(self, route_class: str, verdict: Verdict, route: str, per: str) -> Problem:
        """The 429, with the IETF draft's RateLimit-Policy and RateLimit fields. ``per``: whose
        budget it is, as the client knows it ("API key 'pc-1'", "address 10.0.0.7")."""
        self.metrics.rate_limited.labels(route).inc()
        window = verdict.limit.get_expiry()
        what = (
            "failed authentications" if route_class == AUTH_FAILURES else f"{route_class} requests"
        )
        where = "across every instance" if verdict.shared else "by this instance alone"
        return Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"at most {verdict.limit.amount} {what} per {window} s per {per}, "
            f"counted {where}; try again in {verdict.reset_in} s",
            headers={
                "RateLimit-Policy": f'"{route_class}";q={verdict.limit.amount};w={window}',
                "RateLimit": f'"{route_class}";r={verdict.remaining};t={verdict.reset_in}',
                "Retry-After": str(verdict.reset_in),
            },
        )


async def _verdict(
    limiter: FixedWindowRateLimiter,
    shared: bool,
    limit: RateLimitItem,
    route_class: str,
    who: str,
    *,
    count: bool,
) -> Verdict:
    # The route class is part of the counter's identity: without it, two classes given the same
    # limit (say read and write both 600/minute) would share one counter.
    allowed = await (limiter.hit if count else limiter.test)(limit, route_class, who)
    if allowed:
        return Verdict(True, limit, 0, 0, shared)  # the figures only matter to a refusal
    stats = await limiter.get_window_stats(limit, route_class, who)
    reset_in = max(1, math.ceil(stats.reset_time - time.time()))
    return Verdict(False, limit, stats.remaining, reset_in, shared)
