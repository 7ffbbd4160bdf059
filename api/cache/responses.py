"""Cache-aside for JSON reads, invalidated across instances by generation counters.

Each cached family (``clientes``, ``tipos``) has a generation counter. A cached body is stored
with the generation current when it was looked up, and only served while that is still the
current one; a write renews the counter (before it is acknowledged), so no instance serves what
was cached before it. A lookup reads the counter and the entry together.

Two stores hold them. With Redis (api/cache/store.py), both live there, shared by the instances,
read in one round trip. Without it (api/cache/local.py), each instance keeps its own entries and
the counters are rows in the database.

Entries hold the response body exactly as sent: a hit is answered without touching the
database's tables or encoding anything. When the store fails, requests simply go to the
database ("bypass", counted): the cache makes reads cheaper, never less available.
An instance that could not renew a counter after a write bypasses that family until it has, so
it never serves its own stale data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from api.cache.local import LocalStore
from api.cache.store import RedisStore
from api.http.representation import json_response
from observability.metrics import Metrics

# The cached families: the operations that declare ``cached``/``invalidates`` name one of these
# (checked in api/routes/operation.py), and ``fichas restore`` bumps them all.
FAMILIES = ("clientes", "tipos")


class ResponseCache:
    def __init__(self, store: RedisStore | LocalStore, ttl: int, metrics: Metrics) -> None:
        """Entries live ``ttl`` seconds in ``store`` at most."""
        self.store = store
        self.ttl = ttl
        self.metrics = metrics
        self._unsettled: set[str] = set()  # families whose invalidation has not reached Redis

    async def serve(
        self, request: Request, family: str, answer: Callable[[], Awaitable[Response]]
    ) -> Response:
        """The cached answer to this GET, else ``answer()`` (cached when it is a 200)."""
        generation_key, entry_key = _keys(family, request)
        found = None
        if await self._settled(family):
            found = await self.store.mget(generation_key, entry_key)
        if found is None:
            self._count(family, "bypass")
            return await answer()
        generation, entry = found[0] or b"0", found[1]
        if entry is not None:
            stored_generation, _, body = entry.partition(b"\n")
            if stored_generation == generation:
                self._count(family, "hit")
                return json_response(request, body)
        self._count(family, "miss")
        response = await answer()
        if response.status_code == 200 and response.media_type == "application/json":
            await self.store.set(entry_key, generation + b"\n" + bytes(response.body), self.ttl)
        return response

    async def invalidate(self, family: str) -> None:
        """After a write to ``family``: every instance stops serving what was cached."""
        self._unsettled.add(family)
        await self._settled(family)

    async def _settled(self, family: str) -> bool:
        """Whether this instance's writes to ``family`` have all reached the store (trying now)."""
        if family not in self._unsettled:
            return True
        pending = sorted(self._unsettled)
        if await self.store.incr(*(generation_key(f) for f in pending)):
            self._unsettled.difference_update(pending)
            return True
        return False

    def _count(self, family: str, result: str) -> None:
        self.metrics.cache_requests.labels(family, result).inc()


def generation_key(family: str) -> str:
    """The Redis key of ``family``'s generation counter (also bumped by ``fichas restore``)."""
    return f"fichas:generation:{family}"


# Every cached family's counter: what a restore or a bulk load renews.
GENERATION_KEYS = tuple(map(generation_key, FAMILIES))


def _keys(family: str, request: Request) -> tuple[str, str]:
    """The family's generation counter, and this request's entry (path and sorted query)."""
    query = "&".join(sorted(request.url.query.split("&"))) if request.url.query else ""
    return generation_key(family), f"fichas:cache:{family}:{request.url.path}?{query}"
