"""Migrations build exactly the schema the code declares, and start-up refuses a stale one."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from api.db import migrate
from api.db.engine import StorageError, build_engine
from api.db.tables import metadata
from api.settings import Settings


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_migrated_database_is_current(engine: Engine) -> None:
    migrate.ensure_current(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_an_empty_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    engine = build_engine(Settings(data_dir=tmp_path))
    try:
        with pytest.raises(StorageError, match="run `fichas migrate`"):
            migrate.ensure_current(engine)
        assert migrate.upgrade(engine) == (None, migrate.head_revision())
        assert migrate.upgrade(engine)[0] == migrate.head_revision()  # a second run is a no-op
        migrate.ensure_current(engine)
    finally:
        engine.dispose()
