"""SQLite is opened safely for several writing processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from api.db import engine as engine_module
from api.db.engine import StorageError, build_engine, writing
from fichas.settings import Settings


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = build_engine(Settings(data_dir=tmp_path, db_busy_timeout_ms=0))
    yield engine
    engine.dispose()


def test_connections_use_the_bundled_sqlite(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.connect() as conn:
        version = conn.execute(text("SELECT sqlite_version()")).scalar_one()
        assert tuple(map(int, version.split("."))) >= (3, 51, 3)
        assert type(conn.connection.dbapi_connection).__module__.startswith("pysqlite3")


def test_an_old_sqlite_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import pysqlite3.dbapi2

    monkeypatch.setattr(pysqlite3.dbapi2, "sqlite_version_info", (3, 45, 1))
    monkeypatch.setattr(pysqlite3.dbapi2, "sqlite_version", "3.45.1")
    with pytest.raises(
        StorageError, match=r"3\.45\.1 is too old.*uv sync --reinstall-package pysqlite3"
    ):
        engine_module.sqlite_module()


def test_every_connection_is_configured(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        pragma = SimpleNamespace(
            **{name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in
               ("journal_mode", "synchronous", "foreign_keys", "mmap_size")}
        )  # fmt: skip
    assert pragma.journal_mode == "wal"
    assert pragma.synchronous == 1  # NORMAL
    assert pragma.foreign_keys == 1
    assert pragma.mmap_size == 0  # no mmap with several writing processes


def test_writes_take_the_write_lock_at_begin_and_reads_are_not_blocked(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with writing(sqlite_engine) as holding:
        holding.execute(text("INSERT INTO t VALUES (1)"))
        # A second writer is refused at BEGIN (busy timeout 0 here), before doing any work…
        with pytest.raises(OperationalError, match="locked"), writing(sqlite_engine) as second:
            second.execute(text("SELECT 1"))
        # …while readers go on, seeing the last committed state.
        with sqlite_engine.connect() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
