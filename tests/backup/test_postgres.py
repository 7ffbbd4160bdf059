"""PostgreSQL: ``fichas backup run`` dumps with pg_dump (custom format) under the same manifest,
verification and retention; without pg_dump it says so and exits 2."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from api.db import migrate
from api.db.engine import writing
from backup import manifest
from backup.postgres import libpq_target
from fichas.cli import main
from fichas.settings import Settings, load_settings
from tests.conftest import require_postgres
from tests.support import make_token, migrated_engine, row_count, throwaway_postgres


@pytest.fixture
def postgres_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    require_postgres()
    with throwaway_postgres(f"fichas_backup_{uuid.uuid4().hex[:8]}") as url:
        monkeypatch.setenv("FICHAS_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("FICHAS_DATABASE_URL", url)
        settings = load_settings()
        engine = migrated_engine(settings)
        make_token(engine, "pc-pg", ["read"])
        with writing(engine) as conn:
            conn.execute(text("INSERT INTO clientes (nome, criado_em, atualizado_em) "
                              "SELECT 'Cliente ' || n, now(), now() "
                              "FROM generate_series(1, 250) AS n"))  # fmt: skip
        engine.dispose()
        yield settings


@pytest.mark.slow
def test_pg_dump_backup_with_manifest_verified_and_restorable(
    postgres_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.fail("pg_dump/pg_restore missing: install Debian's postgresql-client")
    assert main(["backup", "run"]) == 0
    assert "verified" in capsys.readouterr().out
    [taken] = manifest.complete(postgres_settings.resolved_backup_dir)
    assert taken.kind == "postgresql"
    assert taken.verified
    assert taken.file.endswith(".pgdump")
    assert taken.row_counts["clientes"] == 250
    assert taken.row_counts["api_keys"] == 1
    assert taken.schema_revision == migrate.head_revision()
    assert taken.engine_version.startswith("pg_dump (PostgreSQL)")
    assert main(["backup", "verify", taken.id]) == 0

    # pg_restore brings back the same rows in an empty database.
    with throwaway_postgres(f"fichas_restored_{uuid.uuid4().hex[:8]}") as url:
        restored = Settings(database_url=url)
        target, env = libpq_target(restored)
        done = subprocess.run(
            ["pg_restore", "--no-owner", "-d", target,
             str(postgres_settings.resolved_backup_dir / taken.file)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert row_count(url, "clientes") == 250

    # restore itself leaves PostgreSQL to pg_restore, and says how.
    assert main(["restore", taken.id]) == 1
    assert "pg_restore" in capsys.readouterr().err


def test_without_pg_dump_a_clear_message_and_exit_2(
    postgres_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it
    assert main(["backup", "run"]) == 2
    err = capsys.readouterr().err
    assert "pg_dump is not installed" in err
    assert manifest.complete(postgres_settings.resolved_backup_dir) == []
