"""Migrations build exactly the schema the code declares, and start-up refuses a stale one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

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

    migrate.upgrade(empty_engine)

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
