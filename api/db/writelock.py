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
import threading
from pathlib import Path
from typing import Any


class WriteLock:
    """Held around each write transaction, by the writer thread or by the event loop.

    ``flock`` belongs to the open file, so threads sharing the file would not exclude each
    other: a thread lock orders this process's writers (its writer thread, and the loop when it
    writes itself, api/db/gateway.py), and ``flock`` orders the processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._in_process = threading.Lock()

    def __enter__(self) -> None:
        self._in_process.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._in_process.release()
            raise

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it, here or in another process; never wait. Whoever
        got it lets go with ``__exit__``."""
        if not self._in_process.acquire(blocking=False):
            return False
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._in_process.release()
            return False
        return True

    def __exit__(self, *exc_info: Any) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._in_process.release()

    def close(self) -> None:
        os.close(self._fd)
