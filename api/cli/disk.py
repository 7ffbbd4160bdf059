"""One line for an operator when the filesystem refuses a write (a read-only mount, a full
disk, a folder owned by someone else), instead of a traceback from wherever it happened."""

from __future__ import annotations

import errno

ADVICE = {
    errno.EROFS: "the filesystem is mounted read-only: remount it read-write, or point "
    "FICHAS_DATA_DIR (or FICHAS_BACKUP_DIR) at a writable folder",
    errno.ENOSPC: "the disk is full: free some space (old backups: `fichas backup prune`), "
    "then run the command again",
    errno.EDQUOT: "this user's disk quota is used up: free some space, then run the command again",
    errno.EACCES: "this user may not write there: run fichas as the folder's owner",
    errno.EPERM: "this user may not write there: run fichas as the folder's owner",
}


def write_problem(exc: OSError) -> str | None:
    """What went wrong and what to do, for the errors an operator fixes; None for the others
    (a bug: let it show)."""
    advice = ADVICE.get(exc.errno or 0)
    if advice is None:
        return None
    where = exc.filename or "to the disk"
    return f"cannot write {where} ({exc.strerror}): {advice}"
