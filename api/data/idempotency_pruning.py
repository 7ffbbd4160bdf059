"""Expired Idempotency-Key records are deleted in the background, and the rest counted.

Expiry itself is enforced where a record is read (``api/routes/idempotency.py``): an expired
record never replays, whenever pruning comes by. Pruning only keeps the table from growing, so it
can run seldom, in small steps, and be late.

Every instance prunes, on its own timer. Under ``fichas up`` several instances share one SQLite
file, and one pruner would be enough; but electing one needs a lease that outlives crashes, and
the supervisor restarts any instance. Pruning twice costs nothing: a delete of what is already
gone deletes nothing, and an instance that finds nothing expired makes one indexed query. Each
batch is one short write transaction under the file's write lock, the size of a busy POST, and
the instance's own writes queue between two batches, so a backlog (after a long stop) is cleared
without holding up requests. The timers are jittered so that instances started together do not
prune in step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from prometheus_client import Gauge

from api.data import idempotency
from api.data.common import now
from api.db.gateway import Database, DatabaseUnavailable

PRUNE_EVERY = 60.0  # seconds between rounds, give or take a quarter
BATCH = 500  # records deleted per write transaction

log = logging.getLogger("fichas.idempotency")


async def prune_expired(db: Database, ttl: float) -> int:
    """Delete every record older than ``ttl`` seconds, ``BATCH`` at a time; how many."""
    before = now() - timedelta(seconds=ttl)
    pruned = 0
    while True:
        deleted = await db.write(idempotency.delete_expired, before, BATCH)
        pruned += deleted
        if deleted < BATCH:
            return pruned


async def keep_pruning(db: Database, ttl: float, records: Gauge) -> None:
    """Prune at once, then every ``PRUNE_EVERY`` seconds; after each round, set ``records`` to
    the table's row count (on SQLite a count runs on the event loop: 13 ms per million rows,
    measured, once a round)."""
    while True:
        try:
            await prune_expired(db, ttl)
            records.set(await db.read(idempotency.count))
        except DatabaseUnavailable as exc:
            log.warning("idempotency records not pruned this round: %s", exc)
        except Exception:
            log.exception("pruning idempotency records failed; trying again next round")
        await asyncio.sleep(PRUNE_EVERY * random.uniform(0.75, 1.25))
