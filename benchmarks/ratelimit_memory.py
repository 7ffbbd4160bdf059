"""Cost of one rate-limit hit counted in an instance's memory, against how many keys it holds.

A shop floor of N PCs, each with its own API key, gives every instance ~2N counters (a read and a
write class per key). This times ``FixedWindowRateLimiter.hit`` — limits' strategy, as
``api/resilience/ratelimit.py`` uses it — over limits' own asyncio ``MemoryStorage`` and over
``InstanceMemory``, with 10, 300 and 2,000 keys. Between two hits the event loop runs what was
scheduled, as it does between two requests (limits' storage schedules a walk of every key on
each hit, which a tight loop without yielding would never run).

Run from the repository root with::

    uv run python -m benchmarks.ratelimit_memory [--hits 20000]

Best of three rounds per cell; CPU-bound and single-threaded, so the ratio between the storages
is what to read, the absolute figures move with the host.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop
from limits import parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from api.resilience.ratelimit import InstanceMemory

KEYS = (10, 300, 2000)


async def per_hit(storage: Storage, keys: int, hits: int) -> float:
    """Microseconds per hit, with ``keys`` counters in the storage."""
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("100000/minute")
    names = [f"key:{n}" for n in range(keys)]
    for name in names:
        await limiter.hit(limit, name)
    started = time.perf_counter()
    for n in range(hits):
        await limiter.hit(limit, names[n % keys])
        await asyncio.sleep(0)  # the loop's turn, as between two requests
    return (time.perf_counter() - started) / hits * 1e6


async def main(hits: int) -> None:
    print(f"{'keys':>6}  {'limits MemoryStorage µs':>24}  {'InstanceMemory µs':>18}  {'ratio':>6}")
    for keys in KEYS:
        library = min([await per_hit(MemoryStorage(), keys, hits) for _ in range(3)])
        ours = min([await per_hit(InstanceMemory(), keys, hits) for _ in range(3)])
        print(f"{keys:>6}  {library:>24.1f}  {ours:>18.1f}  {library / ours:>5.1f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=20000, help="hits timed per cell")
    uvloop.run(main(parser.parse_args().hits))
