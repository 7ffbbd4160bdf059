"""One ``fichas up`` per data directory: the first holds an exclusive lock for its lifetime.

Two supervisors on one data dir would run two clusters on one database, and the second, when
stopped, would remove the first one's ``status.json`` — after which ``fichas status`` says nothing
runs and ``fichas restore`` goes ahead against a live cluster. The lock is ``flock`` on a file in
the cluster folder: the kernel releases it when its holder exits however it exits (``kill -9``
included), so a crash never leaves a stale lock behind, and the children do not inherit it
(``subprocess`` closes their other descriptors). The file also says who holds it, for the message
the second one prints.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

LOCK_NAME = "up.lock"


class ClusterRunning(Exception):
    """Another ``fichas up`` owns this data dir; the message names it and says what to do."""


class Ownership:
    """The held lock; released by ``release()`` or when the process ends."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor

    def release(self) -> None:
        os.close(self._descriptor)


def own(cluster_dir: Path, data_dir: Path, url: str) -> Ownership:
    """Take the data dir for this process, or raise ClusterRunning naming who has it."""
    cluster_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(cluster_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(descriptor)
        os.close(descriptor)
        raise ClusterRunning(
            f"another fichas up (pid {holder.get('pid', '?')}, {holder.get('url', 'URL unknown')}) "
            f"is running on {data_dir}; stop it first (fichas status shows it), or give this one "
            "another FICHAS_DATA_DIR"
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, json.dumps({"pid": os.getpid(), "url": url}).encode())
    return Ownership(descriptor)


def holder(cluster_dir: Path) -> int | None:
    """The pid of the ``fichas up`` that owns the data dir now, or None if none does (0 when one
    holds the lock but has not written its pid yet)."""
    try:
        descriptor = os.open(cluster_dir / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(descriptor).get("pid", 0)
            return pid if isinstance(pid, int) else 0
        return None  # free: nobody holds it (a lock file outlives its holder)
    finally:
        os.close(descriptor)


def _holder(descriptor: int) -> dict[str, object]:
    try:
        holder: dict[str, object] = json.loads(os.pread(descriptor, 4096, 0) or b"{}")
    except ValueError:
        return {}  # the holder has the lock but has not written its name yet
    return holder
