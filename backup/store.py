"""The backup directory: one writer at a time, files that appear whole or not at all.

Every file is written under a ``.tmp`` name and renamed into place after an fsync, so a run
killed at any moment leaves only ``.tmp`` files, which the next run sweeps away under the lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = ".tmp"


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the directory's lock: the scheduler and a hand-run ``fichas backup`` take turns.

    ``flock`` rather than a pid file: the kernel drops it when its holder dies, even by kill -9.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def temporary(path: Path) -> Path:
    return path.with_name(path.name + TEMPORARY)


def publish(written: Path, final: Path) -> None:
    """Make a fully written ``written`` file appear as ``final``, durably."""
    with written.open("rb") as handle:
        os.fsync(handle.fileno())
    written.replace(final)
    descriptor = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the rename itself survives a power cut
    finally:
        os.close(descriptor)


def write_atomically(path: Path, content: bytes) -> None:
    written = temporary(path)
    written.write_bytes(content)
    publish(written, path)


def sweep_leftovers(directory: Path) -> list[Path]:
    """Delete what killed runs left behind; call with the lock held (no live run owns them)."""
    leftovers = sorted(directory.glob(f"*{TEMPORARY}"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers
