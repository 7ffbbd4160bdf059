"""Redis, used so that it can never slow a request down.

Every command has a short timeout and goes through the ``redis`` circuit breaker; a command that
fails or is refused answers ``None`` and the caller carries on without the cache. redis-py's own
retries are switched off (they wait seconds); a dropped connection is retried once, at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import backoff
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from api.resilience.breaker import Breaker, CircuitOpen
from api.resilience.retry import NO_RETRY, count_retries
from observability.metrics import Metrics

T = TypeVar("T")


def redis_failure(exc: BaseException) -> bool:
    return isinstance(exc, RedisError | OSError | TimeoutError)


def redis_pool(url: str, timeout: float) -> ConnectionPool:
    """The instance's one pool of Redis connections, shared by the cache and the rate limits."""
    return ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisStore:
    def __init__(self, pool: ConnectionPool, breaker: Breaker, metrics: Metrics) -> None:
        self.breaker = breaker
        self.client = Redis(connection_pool=pool, retry=NO_RETRY)
        # A dropped connection (Redis restarted, a connection that went stale) fails at once
        # and works on a fresh one, so it is tried once more after a few milliseconds. A
        # timeout is not: waiting again is what this class exists to avoid.
        self._retrying = backoff.on_exception(
            backoff.expo,
            RedisConnectionError,
            max_tries=2,
            factor=0.002,
            jitter=backoff.full_jitter,
            on_success=count_retries(metrics, "success"),
            on_giveup=count_retries(metrics, "exhausted"),
            logger=None,
        )(_send)

    async def ping(self) -> bool:
        return bool(await self._call("redis.ping", self.client.ping))

    async def mget(self, *keys: str) -> list[bytes | None] | None:
        """The values (None where absent); None when Redis did not answer."""
        # bytes: the client is made without decode_responses
        values = await self._call("redis.mget", lambda: self.client.mget(keys))
        return cast(list[bytes | None] | None, values)

    async def set(self, key: str, value: bytes, ttl: int) -> bool:
        return (
            await self._call("redis.set", lambda: self.client.set(key, value, ex=ttl)) is not None
        )

    async def incr(self, *keys: str) -> bool:
        """Increment every key, in one round trip; whether Redis did."""

        async def increment() -> bool:
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                await pipe.execute()
            return True

        return await self._call("redis.incr", increment) is not None

    async def _call(self, operation: str, command: Callable[[], Awaitable[T]]) -> T | None:
        """``command``'s answer; None when Redis did not give one (or was not asked)."""
        try:
            with self.breaker.guard():
                result: T = await self._retrying(operation, command)
                return result
        except (CircuitOpen, RedisError, OSError, TimeoutError):
            return None


async def _send(operation: str, command: Callable[[], Awaitable[T]]) -> T:
    """One try of ``command`` (``operation`` names it in the retry metrics)."""
    return await command()


def redis_breaker(metrics: Metrics, threshold: int, cooldown: float) -> Breaker:
    return Breaker("redis", metrics, redis_failure, threshold=threshold, cooldown=cooldown)
