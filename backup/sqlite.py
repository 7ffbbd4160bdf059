"""The SQLite files backups read and write, opened through the project's driver (pysqlite3).

pysqlite3 bundles a current SQLite, as the API instances need (see ``api.db.engine``): a backup
is one more process reading a file three instances write.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from api.db.engine import is_sqlite, sqlite_file, sqlite_module
from backup.manifest import BackupError
from fichas.settings import Settings


def database_file(settings: Settings) -> Path:
    """The SQLite file the settings point at."""
    if not is_sqlite(settings):
        raise BackupError("the database is not SQLite")
    database = sqlite_file(settings)
    if database is None:
        raise BackupError("an in-memory database has nothing to back up")
    return database


def connect(path: Path, busy_timeout_ms: int = 5000) -> Any:
    """A plain DB-API connection; autocommit, waiting up to the busy timeout for a lock."""
    connection = sqlite_module().connect(str(path), timeout=busy_timeout_ms / 1000)
    connection.isolation_level = None
    return connection


def sidecars(database: Path) -> tuple[Path, Path]:
    """The write-ahead log and shared-memory index SQLite keeps beside a WAL database."""
    return database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")


def library_version() -> str:
    version: str = sqlite_module().sqlite_version
    return version


def copy(source: Path, target: Path, busy_timeout_ms: int = 5000) -> None:
    """Copy a consistent image of ``source`` into ``target`` with SQLite's online backup API.

    One step (``pages=-1``), not many small ones with sleeps between: SQLite restarts a backup
    from the first page whenever another connection writes the source between two steps, so
    with three instances writing, small steps copied the same pages over and over (measured:
    7.7 s and 13,394 steps for a 43 MB file that one step copies in 0.07 s). In WAL mode one
    step is one read transaction, which never blocks writers: they append to the WAL while it
    runs; only checkpointing waits until it ends.
    """
    with closing(connect(source, busy_timeout_ms)) as reading, closing(connect(target)) as writing:
        reading.backup(writing, pages=-1)


def integrity_problems(path: Path) -> list[str]:
    """What ``PRAGMA integrity_check`` finds; empty when the file is sound."""
    try:
        with closing(connect(path)) as connection:
            answer = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    except sqlite_module().DatabaseError as exc:
        return [str(exc)]
    return [] if answer == ["ok"] else answer


def tables(connection: Any) -> list[str]:
    """The database's own tables, by name: not SQLite's, nor Litestream's bookkeeping
    (``_litestream_seq``, ``_litestream_lock``, see backup/replication.py)."""
    return [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]


def row_counts(path: Path) -> dict[str, int]:
    with closing(connect(path)) as connection:
        # Names come from the file's own catalogue, quoted: not user input.
        return {
            table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            for table in tables(connection)
        }


def schema_revision(path: Path) -> str | None:
    with closing(connect(path)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite_module().OperationalError:
            return None  # not migrated: no such table
    return None if row is None else str(row[0])
