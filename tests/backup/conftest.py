"""A small real SQLite database with demo data, and ways to compare databases row by row."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from api.cache.responses import generation_key
from backup import sqlite
from fichas.cli import main
from fichas.settings import Settings, load_settings

GENERATIONS = generation_key("")  # the prefix of the cache's generation counters


@pytest.fixture
def sqlite_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings (from the environment, as the CLI reads them) of a migrated database holding
    50 clientes and 300 pedidos; backups go to <data_dir>/backups."""
    monkeypatch.setenv("FICHAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FICHAS_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    assert main(["demo-data", "--clientes", "50", "--pedidos", "300"]) == 0
    return load_settings()


def add_demo_data(settings: Settings, clientes: int, pedidos: int) -> None:
    """Load more demo data (``demo-data`` alone would find its marker and load nothing)."""
    with closing(sqlite.connect(sqlite.database_file(settings))) as connection:
        connection.execute("DELETE FROM contadores WHERE nome = 'demo-data'")
    assert main(["demo-data", "--clientes", str(clientes), "--pedidos", str(pedidos)]) == 0


def content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in rowid order: two databases are equal when these are. Not the
    response cache's generation counters, machinery that a restore renews on purpose
    (api/data/generations.py)."""
    with closing(sqlite.connect(path)) as connection:
        return {
            table: [
                row
                for row in connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
                if not (table == "contadores" and row[0].startswith(GENERATIONS))
            ]
            for table in sqlite.tables(connection)
        }
