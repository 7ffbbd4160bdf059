"""One writer at a time across the processes that share a SQLite file, queued by the kernel.

SQLite lets one connection write at a time. Another process's ``BEGIN IMMEDIATE`` finds the file
locked, and SQLite's busy handler tries again after sleeps of 1, 2, 5, 10 … up to 100 ms: with
several instances writing, a waiting writer sleeps through most of the moments the lock is free,
and writes queue far longer than they take. An exclusive ``flock`` on a file beside the database,
taken before ``BEGIN IMMEDIATE``, queues the instances' writers instead: the kernel wakes a waiter
the moment the holder lets go, and the holder of the lock never meets SQLite's lock taken.
Everything else that writes the file (a restore, the CLI) still meets SQLite's own lock and waits
on the busy timeout, as before. A process that dies holding the lock releases it with its files.

Hand-written, being a few lines of ``fcntl``: the file-lock libraries (filelock, fasteners) wait
by polling with sleeps, which is what this replaces.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any


class WriteLock:
    """Held around each write transaction by the one writer thread of a process.

    ``flock`` belongs to the open file, so threads sharing this object would not exclude each
    other: it orders processes, and a process's own writes are already ordered by its single
    writer thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: Any) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
