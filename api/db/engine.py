"""Engines for SQLite (the embedded default) and PostgreSQL, built from Settings.

SQLite is opened through ``pysqlite3``, which bundles a current SQLite: several processes write
one file, and SQLite before 3.51.3 can corrupt a WAL database in that case.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from api.db.writelock import WriteLock
from fichas.settings import Settings

MIN_SQLITE = (3, 51, 3)


class StorageError(Exception):
    """The database cannot be used as configured; the message says how to fix it."""


def database_problem(exc: DBAPIError) -> str:
    """What the database said when a command could not use it, in one line, with what to do."""
    said = (str(exc.orig) or type(exc.orig).__name__).strip().splitlines()[0]
    if "not a database" in said or "malformed" in said:
        return (
            f"the SQLite database cannot be read ({said}): if the file is damaged, restore it "
            "from the replica (`fichas restore --latest`) or a backup (`fichas backup list`, "
            "then `fichas restore <ID>`): either moves the unreadable file aside"
        )
    if "readonly" in said or "disk is full" in said or "disk I/O" in said:
        return (
            f"the SQLite database cannot be written ({said}): its folder must be on a "
            "writable filesystem with free space, and owned by this user"
        )
    return (
        f"the database cannot be used ({said}): check FICHAS_DATA_DIR or FICHAS_DATABASE_URL, "
        "that the server answers, and that this user may write there"
    )


def sqlite_module() -> ModuleType:
    import pysqlite3.dbapi2 as sqlite

    if sqlite.sqlite_version_info < MIN_SQLITE:
        raise StorageError(
            f"SQLite {sqlite.sqlite_version} is too old: several processes writing one WAL "
            f"database need {'.'.join(map(str, MIN_SQLITE))} or newer. Reinstall the bundled "
            "driver with `uv sync --reinstall-package pysqlite3`."
        )
    module: ModuleType = sqlite
    return module


def is_sqlite(settings: Settings) -> bool:
    return settings.resolved_database_url.startswith("sqlite")


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file the settings point at; None for PostgreSQL or an in-memory database."""
    if not is_sqlite(settings):
        return None
    database = make_url(settings.resolved_database_url).database
    return Path(database) if database and database != ":memory:" else None


def write_lock(settings: Settings) -> WriteLock | None:
    """What orders the writes of the processes sharing a SQLite file; None where there is none."""
    database = sqlite_file(settings)
    return WriteLock(database.with_name(database.name + "-writer.lock")) if database else None


def threads(settings: Settings) -> tuple[int, int]:
    """Threads for (reads, writes). SQLite: reads on the event loop, one writer (there is one
    write lock per file whatever we do). PostgreSQL: ``db_threads`` of each, its rows lock alone.
    """
    if is_sqlite(settings):
        return 0, 1
    return settings.db_threads, settings.db_threads


def build_engine(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    # + the event loop's own connections: one reading, and on SQLite one writing.
    pool_size = sum(threads(settings)) + 2
    if is_sqlite(settings):
        return _sqlite_engine(url, settings, pool_size)
    # What the URL's own query does not set (an operator may tune any of them there).
    given = make_url(url).query
    connect_args = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k not in given}
    return create_engine(
        url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True, connect_args=connect_args
    )


# libpq's parameters for a PostgreSQL on another host. A host cut off from it hears nothing —
# no refusal, no reset — and by the kernel's defaults a connection would wait minutes to be
# declared dead, holding a request and a database thread. The API answers within seconds or
# not at all, so: a connection not made in 2 s, data not acknowledged in 2 s, or an idle pooled
# connection silent for 4 s (2 s, then 2 probes a second apart) fails, and the request with it
# (503, which the front host retries elsewhere when safe). On the server's side, a transaction
# whose client went silent mid-way would keep its locks until the server's own TCP timeouts
# (hours): it is ended after 5 s idle, long past any pause of ours between two statements.
POSTGRES_CONNECT_ARGS: dict[str, object] = {
    "connect_timeout": 2,
    "tcp_user_timeout": 2000,
    "keepalives": 1,
    "keepalives_idle": 2,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "options": "-c idle_in_transaction_session_timeout=5000",
}


def _sqlite_engine(url: str, settings: Settings, pool_size: int) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        module=sqlite_module(),
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"check_same_thread": False, "timeout": settings.db_busy_timeout_ms / 1000},
    )
    busy_ms = settings.db_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to us (the driver's implicit BEGIN is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    return engine


def begin_writing(conn: Connection) -> None:
    """Make the transaction just begun on ``conn`` a write: on SQLite, take the file's write
    lock now (BEGIN IMMEDIATE), so two writers queue on the busy timeout instead of deadlocking
    when a reader upgrades to a writer. Reads run in autocommit (one statement, one consistent
    snapshot) and need no BEGIN at all.

    Called explicitly rather than from a "begin" event listener: any listener on the engine
    sends every statement, reads included, down SQLAlchemy's event path (measured: a fifth of
    a write transaction's cost)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def one_at_a_time(conn: Connection, purpose: str) -> None:
    """Make the write transaction begun on ``conn`` wait for any other process's for the same
    ``purpose`` (the schema's migration, the first admin key): app hosts started together each
    do those at start, and the later ones must find them done. SQLite's write lock
    (``begin_writing``) already orders writers on one file; PostgreSQL takes an advisory lock,
    held until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:purpose))"), {"purpose": purpose})


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` for a write transaction (``begin_writing``)."""
    with engine.begin() as conn:
        begin_writing(conn)
        yield conn
