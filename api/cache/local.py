"""The response cache's store without Redis: entries in this process, generations in the
database.

``fichas up`` on its defaults runs several instances on one SQLite file and no Redis. Each
instance then keeps the bodies it served itself, and learns that a family changed from its
generation row in the database (api/data/generations.py), which a write renews before it is
acknowledged, as it would the Redis counter. A lookup is one read of one row by its key — on
SQLite, on the event loop, a few tens of microseconds instead of a page's query and encoding.

Entries are bounded in number (least recently used out first) and expire after the cache TTL, as
Redis would expire them: a page a client asked once does not stay for good. When the database
cannot answer, the lookup answers None and the request goes to the database anyway (where it
meets the same trouble, reported as such).
"""

from __future__ import annotations

from cachetools import TTLCache

from api.data import generations
from api.db.gateway import Database, DatabaseUnavailable

# A page of 100 clientes is ~20 KB: at most ~10 MB per instance.
MAX_ENTRIES = 512


class LocalStore:
    """What ResponseCache asks of a store (api/cache/store.py's RedisStore is the other)."""

    def __init__(self, db: Database, ttl: int) -> None:
        self.db = db
        self._entries: TTLCache[str, bytes] = TTLCache(MAX_ENTRIES, ttl)

    async def mget(self, generation_key: str, entry_key: str) -> list[bytes | None] | None:
        """The family's generation and this instance's entry; None when the database did not
        answer."""
        try:
            generation = await self.db.read(generations.current, generation_key)
        except DatabaseUnavailable:
            return None
        return [generation, self._entries.get(entry_key)]

    async def set(self, key: str, value: bytes, ttl: int) -> bool:
        """Kept until the cache TTL the store was made with (``ttl`` is always that one)."""
        self._entries[key] = value
        return True

    async def incr(self, *keys: str) -> bool:
        """New generations for ``keys``; whether the database took them."""
        try:
            await self.db.write(generations.renew, keys)
        except DatabaseUnavailable:
            return False
        return True
