"""Migrations build exactly the schema the code declares, and start-up refuses a stale one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, TextClause, inspect, text
from sqlalchemy.exc import IntegrityError

from api.db import migrate
from api.db.engine import StorageError, build_engine
from api.db.tables import metadata
from fichas.settings import Settings
from tests.conftest import require_postgres
from tests.support import throwaway_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of each kind with no schema yet, to migrate step by step."""
    if request.param == "sqlite":
        engine = build_engine(Settings(data_dir=tmp_path))
        yield engine
        engine.dispose()
        return
    require_postgres()
    with throwaway_postgres(f"fichas_migrations_{uuid.uuid4().hex[:8]}") as url:
        engine = build_engine(Settings(data_dir=tmp_path, database_url=url))
        yield engine
        engine.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    """``migrate.upgrade`` the other way, which only the tests need."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    assert _schema_differences(engine) == []


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


def test_upgrade_forgets_stored_answers_that_hold_a_token(empty_engine: Engine) -> None:
    # Before 0002, POST /chaves with an Idempotency-Key stored its answer, token included.
    migrate.upgrade(empty_engine, "0001")
    stored = text(
        "INSERT INTO idempotency_keys (api_key_id, chave, impressao, status, corpo, location, "
        "criado_em) VALUES (1, :chave, :impressao, 201, :corpo, :location, :criado_em)"
    )
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (id, nome, prefixo, hash, escopos, criado_em) "
                "VALUES (1, 'admin', 'abcd1234', :hash, 'read,write,admin', :criado_em)"
            ),
            {"hash": "0" * 64, "criado_em": datetime(2026, 11, 29, 12)},
        )
        for chave, corpo, location in [
            ("k-chave", b'{"id": 2, "nome": "pc-1", "token": "fichas_ef01_secret"}', "/chaves/2"),
            ("k-cliente", b'{"id": 7, "nome": "Maria Souza"}', "/clientes/7"),
            ("k-status", b'{"id": 3, "status": "pronto"}', None),
        ]:
            conn.execute(
                stored,
                {"chave": chave, "impressao": "f" * 64, "corpo": corpo, "location": location,
                 "criado_em": datetime(2026, 11, 29, 12)},
            )  # fmt: skip

    migrate.upgrade(empty_engine, "0002")

    with empty_engine.connect() as conn:
        left = conn.execute(text("SELECT chave, corpo FROM idempotency_keys ORDER BY chave"))
        rows = {chave: bytes(corpo) for chave, corpo in left}
    assert set(rows) == {"k-cliente", "k-status"}
    assert not any(b"fichas_" in corpo for corpo in rows.values())


def test_upgrade_folds_the_cidade_of_existing_clientes(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0002")
    with empty_engine.begin() as conn:
        for nome, cidade in [("Ana", "SÃO PAULO"), ("Bia", "Straße"), ("Caio", None)]:
            conn.execute(
                text(
                    "INSERT INTO clientes (nome, cidade, criado_em, atualizado_em) "
                    "VALUES (:nome, :cidade, :em, :em)"
                ),
                {"nome": nome, "cidade": cidade, "em": datetime(2026, 11, 29, 12)},
            )

    migrate.upgrade(empty_engine)

    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT nome, cidade_busca FROM clientes")).all()
    folded: dict[str, str | None] = dict(rows)
    assert folded == {"Ana": "são paulo", "Bia": "strasse", "Caio": None}


_OLD_RECORD = text(
    "INSERT INTO idempotency_keys (api_key_id, chave, impressao, status, corpo, location, "
    "criado_em) VALUES (1, :key, :fingerprint, :status, :body, :location, :at)"
)
_NEW_RECORD = text(
    "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, status, body, location, "
    "created_at) VALUES (1, :key, :fingerprint, :status, :body, :location, :at)"
)
_RECORDS = [
    {"key": "k-cliente", "fingerprint": "a" * 64, "status": 201, "body": b'{"id": 7}',
     "location": "/clientes/7", "at": datetime(2026, 11, 29, 12)},
    {"key": "k-status", "fingerprint": "b" * 64, "status": 200, "body": b'{"id": 3}',
     "location": None, "at": datetime(2026, 11, 30, 8)},
]  # fmt: skip


def _with_a_key(engine: Engine, record: TextClause) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (id, nome, prefixo, hash, escopos, criado_em) "
                "VALUES (1, 'admin', 'abcd1234', :hash, 'read,write,admin', :criado_em)"
            ),
            {"hash": "0" * 64, "criado_em": datetime(2026, 11, 29, 12)},
        )
        conn.execute(record, _RECORDS)


def _records(
    engine: Engine, key: str, fingerprint: str, body: str, at: str
) -> list[dict[str, Any]]:
    query = text(
        f"SELECT {key} AS key, {fingerprint} AS fingerprint, status, {body} AS body, location, "
        f"{at} AS at FROM idempotency_keys ORDER BY {key}"
    )
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:  # bytes from either driver; naive datetimes, as the raw SQL stored them
        row["body"] = bytes(row["body"])
        if isinstance(row["at"], str):
            row["at"] = datetime.fromisoformat(row["at"])
    return rows


def _idempotency_names(engine: Engine) -> tuple[set[str], set[str | None], set[str | None]]:
    """The columns, unique constraints and indexes of the idempotency records' table."""
    found = inspect(engine)
    return (
        {column["name"] for column in found.get_columns("idempotency_keys")},
        {unique["name"] for unique in found.get_unique_constraints("idempotency_keys")},
        {  # PostgreSQL also lists the index behind the unique constraint, under its name
            index["name"]
            for index in found.get_indexes("idempotency_keys")
            if "duplicates_constraint" not in index
        },
    )


def test_upgrade_renames_the_idempotency_columns_keeping_the_records(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0003")
    _with_a_key(empty_engine, _OLD_RECORD)

    migrate.upgrade(empty_engine)

    assert _records(empty_engine, "key", "fingerprint", "body", "created_at") == _RECORDS
    assert _idempotency_names(empty_engine) == (
        {"id", "api_key_id", "key", "fingerprint", "status", "body", "location", "created_at"},
        {"uq_idempotency_keys_api_key_id_key"},
        {"ix_idempotency_keys_created_at"},
    )
    # Still one record per key and API key; PostgreSQL names the constraint, SQLite its columns.
    unique = (
        r"uq_idempotency_keys_api_key_id_key|idempotency_keys\.api_key_id, idempotency_keys\.key"
    )
    with pytest.raises(IntegrityError, match=unique), empty_engine.begin() as conn:
        conn.execute(_NEW_RECORD, _RECORDS[0])


def test_downgrade_gives_the_idempotency_columns_their_old_names_back(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine)
    _with_a_key(empty_engine, _NEW_RECORD)

    _downgrade(empty_engine, "0003")

    assert _records(empty_engine, "chave", "impressao", "corpo", "criado_em") == _RECORDS
    assert _idempotency_names(empty_engine) == (
        {"id", "api_key_id", "chave", "impressao", "status", "corpo", "location", "criado_em"},
        {"uq_idempotency_keys_api_key_id_chave"},
        {"ix_idempotency_keys_criado_em"},
    )


def test_every_migration_can_be_undone_and_done_again(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    _downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}

    migrate.upgrade(empty_engine)
    assert _schema_differences(empty_engine) == []
