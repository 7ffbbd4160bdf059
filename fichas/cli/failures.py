"""One line for an operator when a command fails for a reason theirs to fix — a wrong setting, a
database that cannot be used, a read-only mount, a full disk, a folder owned by someone else —
instead of a traceback from wherever it happened.

Imported only once something has failed, so that no command pays for it (or for SQLAlchemy,
whose errors it names) when nothing does.
"""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError

from api.db.engine import StorageError, database_problem
from fichas.settings import SettingsError

ADVICE = {
    errno.EROFS: "the filesystem is mounted read-only: remount it read-write, or point "
    "FICHAS_DATA_DIR (or FICHAS_BACKUP_DIR) at a writable folder",
    errno.ENOSPC: "the disk is full: free some space (old backups: `fichas backup prune`), "
    "then run the command again",
    errno.EDQUOT: "this user's disk quota is used up: free some space, then run the command again",
    errno.EACCES: "this user may not write there: run fichas as the folder's owner",
    errno.EPERM: "this user may not write there: run fichas as the folder's owner",
}


def operator_problem(exc: Exception) -> str | None:
    """What went wrong and what to do; None for the failures that are bugs (let them show)."""
    if isinstance(exc, SettingsError | StorageError):
        return str(exc)
    if isinstance(exc, DBAPIError):  # unreadable, unreachable, read-only
        return database_problem(exc)
    if isinstance(exc, OSError):
        return write_problem(exc)
    return None


def write_problem(exc: OSError) -> str | None:
    """The filesystem refused a write: why, and what to do; None for an OSError of another kind."""
    advice = ADVICE.get(exc.errno or 0)
    if advice is None:
        return None
    where = exc.filename or "to the disk"
    return f"cannot write {where} ({exc.strerror}): {advice}"
