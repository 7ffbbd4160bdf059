"""Fichas' files are the owner's alone: 0700 directories, 0600 files.

The database (and its -wal) holds every order and the key hashes, the data dir the admin key,
the backups and the replica a copy of it all, the cluster folder the alert receivers' credentials.

One umask at the ``fichas`` command's entry makes it so, rather than a mode at each of the places
that create a file: every child process inherits it, so it also reaches the files we do not write
ourselves — SQLite's -wal/-shm (which take the database file's mode), Caddy's storage and CA keys,
Prometheus's and Alertmanager's data, pg_dump's archive — and the places added tomorrow.

What existed before keeps its mode (made by an older version, or by a hand-run ``mkdir``):
``fichas up`` lists it at start with the command that fixes it, rather than change the modes of
the operator's files behind their back.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fichas.settings import Settings

# The umask that leaves no permission to group and others.
OWNER_ONLY = 0o077
# How many of the files found open the warning names; it counts the rest.
NAMED = 5


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and directories created within (and by processes started within) are private.

    The caller's umask comes back after: ``fichas``'s ``main`` is also called in-process.
    """
    previous = os.umask(OWNER_ONLY)
    try:
        yield
    finally:
        os.umask(previous)


def _roots(settings: Settings) -> list[Path]:
    """What fichas keeps: the data dir, the backups and the SQLite files, wherever they are
    configured; those inside another left out, being walked with it."""
    # Here, not at the top: every command enters owner_only(); only `fichas up` walks the files.
    from api.db.engine import sqlite_file
    from backup.replication import replica_folder
    from backup.sqlite import sidecars

    candidates = [settings.data_dir, settings.resolved_backup_dir]
    database = sqlite_file(settings)
    if database is not None:
        candidates += [database, *sidecars(database)]
    if (folder := replica_folder(settings)) is not None:
        candidates.append(folder)
    resolved = list(dict.fromkeys(path.resolve() for path in candidates))
    return [p for p in resolved if not any(p != o and p.is_relative_to(o) for o in resolved)]


def _tree(root: Path) -> Iterator[Path]:
    """``root`` and, when it is a directory, everything under it (symbolic links not followed)."""
    yield root
    for directory, dirs, files in os.walk(root):
        for name in sorted((*dirs, *files)):  # the same order every time, for the warning
            yield Path(directory, name)


def open_to_others(root: Path) -> list[tuple[Path, int]]:
    """(path, mode) of what under ``root`` gives group or others any permission."""
    found = []
    for path in _tree(root):
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue  # not there (not created yet), or gone while we looked
        if not stat.S_ISLNK(mode) and mode & OWNER_ONLY:  # a link's own mode means nothing
            found.append((path, stat.S_IMODE(mode)))
    return found


def warning(settings: Settings) -> str | None:
    """One line naming what is open to other users, and the command that closes it; None when
    everything is private."""
    found = {root: open_to_others(root) for root in _roots(settings)}
    listed = [entry for entries in found.values() for entry in entries]
    if not listed:
        return None
    named = ", ".join(f"{path} ({mode:04o})" for path, mode in listed[:NAMED])
    more = f" and {len(listed) - NAMED} more" if len(listed) > NAMED else ""
    fix = shlex.join(["chmod", "-R", "go-rwx", *(str(root) for root in found if found[root])])
    return (
        f"fichas: warning: open to other users of this machine (0700 directories and 0600 "
        f"files expected): {named}{more}; make them private with: {fix}"
    )
