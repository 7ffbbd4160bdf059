"""When this instance may trust the keys it verified earlier: news of revocations.

A revocation made on this instance is known here at once. With Redis, every revocation also
increments one generation counter there (as a write does for a cached family, api/cache), which
each instance reads every ``POLL_SECONDS`` in the background: a change means some key was
revoked somewhere, and everything verified before is looked up again. A counter rather than
Redis pub/sub because a message published while an instance was not listening is lost without
a trace, whereas a counter is state: each successful read *proves* that the instance has heard
of every revocation announced before it, so "trusted" can be stated as a fact with a date
(``TRUST_SECONDS``), not hoped for. It costs one GET per instance four times a second.

When Redis cannot be read, the instance cannot hear of revocations, so it trusts nothing it
verified: each request's key is looked up in the database (as with FICHAS_AUTH_CACHE_SECONDS=0)
until a read succeeds again. Requests never wait for Redis here: only the background poll talks
to it. Without Redis (a single host's memory), news travels only by cache expiry:
``auth_cache_seconds`` on the other instances.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis import Redis
from redis.exceptions import RedisError

from api.cache.responses import generation_key
from api.cache.store import RedisStore

KEY = generation_key("chaves")
POLL_SECONDS = 0.25
# A read proves what was announced before it was sent; trusting it for 0.75 s keeps every
# instance within 1 s of an announcement even when one poll in between is late or fails.
TRUST_SECONDS = 0.75


class Revocations:
    def __init__(self, store: RedisStore | None) -> None:
        self.store = store
        self._generation = 0  # bumped whenever keys verified before may have been revoked
        self._seen: bytes | None = None  # the Redis counter at the last read
        self._confirmed_at = -math.inf  # when the last successful read was sent
        self._unannounced = False  # a revocation made here has not reached Redis yet

    def generation(self) -> int | None:
        """What a verification must be tagged with to be trusted now; None: trust none."""
        if self.store is not None and time.monotonic() - self._confirmed_at > TRUST_SECONDS:
            return None
        return self._generation

    async def revoked(self) -> None:
        """A key was revoked here (committed): forget what was verified, and tell the others."""
        self._generation += 1
        if self.store is not None:
            self._unannounced = True
            await self._announce()

    async def _announce(self) -> None:
        assert self.store is not None
        if self._unannounced and await self.store.incr(KEY):
            self._unannounced = False

    async def poll(self) -> None:
        """Read the counter once: a change, or no answer, withdraws trust in what was verified."""
        assert self.store is not None
        sent = time.monotonic()
        await self._announce()  # one that failed before: the others must hear of it
        found = await self.store.mget(KEY)
        if found is None:
            # Deaf for now: what was verified before cannot be trusted, even once Redis is back
            # (a revocation announced meanwhile may never show as a change).
            self._generation += 1
            self._confirmed_at = -math.inf
            return
        if found[0] != self._seen:
            self._seen = found[0]
            self._generation += 1
        self._confirmed_at = sent

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """For the app's lifetime: the first read before serving, then one every POLL_SECONDS."""
        if self.store is None:
            yield
            return
        await self.poll()

        async def watch() -> None:
            while True:
                await asyncio.sleep(POLL_SECONDS)
                await self.poll()

        task = asyncio.create_task(watch())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def announce(redis_url: str | None) -> str | None:
    """For ``fichas keys revoke`` (no instance's Redis client at hand): tell the instances; why
    not, if it could not (they then learn within FICHAS_AUTH_CACHE_SECONDS)."""
    if redis_url is None:
        return None
    try:
        with Redis.from_url(redis_url, socket_timeout=5) as client:
            client.incr(KEY)
    except RedisError as exc:
        return str(exc)
    return None
