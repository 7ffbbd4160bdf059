"""Redis, used so that it can never slow a request down.

Every command has a short timeout and goes through the ``redis`` circuit breaker; a command that
fails or is refused answers ``None`` and the caller carries on without the cache. redis-py's own
retries are switched off: a retry waits, and waiting is what this must not do.
"""

from __future__ import annotations

from typing import cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from api.resilience.breaker import Breaker, CircuitOpen
from observability.metrics import Metrics

# redis-py retries failed commands itself by default, waiting between tries: never here.
NO_RETRY = Retry(NoBackoff(), 0)


def redis_failure(exc: BaseException) -> bool:
    return isinstance(exc, RedisError | OSError | TimeoutError)


def redis_pool(url: str, timeout: float) -> ConnectionPool:
    """The instance's one pool of Redis connections, shared by the cache and the rate limits."""
    return ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisStore:
    def __init__(self, pool: ConnectionPool, breaker: Breaker) -> None:
        self.breaker = breaker
        self.client = Redis(connection_pool=pool, retry=NO_RETRY)

    async def ping(self) -> bool:
        try:
            with self.breaker.guard():
                return bool(await self.client.ping())
        except (CircuitOpen, RedisError, OSError, TimeoutError):
            return False

    async def mget(self, *keys: str) -> list[bytes | None] | None:
        """The values (None where absent); None when Redis did not answer."""
        try:
            with self.breaker.guard():
                # bytes: the client is made without decode_responses
                return cast(list[bytes | None], await self.client.mget(keys))
        except (CircuitOpen, RedisError, OSError, TimeoutError):
            return None

    async def set(self, key: str, value: bytes, ttl: int) -> bool:
        try:
            with self.breaker.guard():
                await self.client.set(key, value, ex=ttl)
                return True
        except (CircuitOpen, RedisError, OSError, TimeoutError):
            return False

    async def incr(self, *keys: str) -> bool:
        """Increment every key, in one round trip; whether Redis did."""
        try:
            with self.breaker.guard():
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.incr(key)
                    await pipe.execute()
                return True
        except (CircuitOpen, RedisError, OSError, TimeoutError):
            return False


def redis_breaker(metrics: Metrics, threshold: int, cooldown: float) -> Breaker:
    return Breaker("redis", metrics, redis_failure, threshold=threshold, cooldown=cooldown)
