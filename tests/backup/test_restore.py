"""``restore``: equal to the source row by row; keeps what it replaces; refuses a database a
running cluster uses unless forced; forced, it reaches connections that hold the file open."""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path

import pytest
from redis import Redis

from api.auth import revocations
from api.cache.responses import GENERATION_KEYS, generation_key
from backup import sqlite
from backup.job import run_backup
from backup.restore import restore
from fichas import owner
from fichas.cli import main
from fichas.settings import Settings
from loadtest.target import redis_server
from tests.backup.conftest import GENERATIONS, content


def test_round_trip_equals_the_source(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    database = sqlite.database_file(sqlite_settings)
    source = content(database)
    taken = run_backup(sqlite_settings).taken
    with closing(sqlite.connect(database)) as connection:  # the database moves on
        connection.execute("DELETE FROM pedido_eventos")
        connection.execute("UPDATE pedidos SET descricao = 'alterado'")
    capsys.readouterr()

    assert main(["restore", taken.id]) == 0
    assert content(database) == source
    out = capsys.readouterr().out
    previous = list(database.parent.glob("fichas.db.before-restore-*"))
    assert len(previous) == 1
    assert f"saved the database it replaces as {previous[0]}" in out
    assert f"restored {database}" in out
    assert "pedidos 300" in out
    with closing(sqlite.connect(previous[0])) as connection:
        assert connection.execute("SELECT count(*) FROM pedido_eventos").fetchone() == (0,)


def test_refused_while_a_cluster_runs_and_nothing_changes(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = run_backup(sqlite_settings).taken
    database = sqlite.database_file(sqlite_settings)
    before = database.read_bytes()
    # This process stands in for `fichas up`: it takes the data dir as `fichas up` does.
    ownership = owner.own(sqlite_settings.cluster_dir, sqlite_settings.data_dir, "http://x")
    try:
        assert main(["restore", taken.id]) == 1
    finally:
        ownership.release()
    err = capsys.readouterr().err
    assert f"refused: a running cluster (supervisor pid {os.getpid()})" in err
    assert "--force" in err
    assert database.read_bytes() == before
    assert not list(database.parent.glob("*before-restore*"))
    assert not list(database.parent.glob(".*.tmp"))

    # It let go (as on any exit, kill -9 included; the lock file stays): no longer refused.
    assert main(["restore", taken.id]) == 0


def test_forced_restore_reaches_a_connection_holding_the_file(
    sqlite_settings: Settings,
) -> None:
    """An instance's open connection sees the restored rows and its next write lands in the
    restored file: the pages were copied in, not a new file renamed over the old one."""
    taken = run_backup(sqlite_settings).taken
    database = sqlite.database_file(sqlite_settings)
    with closing(sqlite.connect(database)) as instance:
        instance.execute("DELETE FROM pedido_eventos")
        assert main(["restore", taken.id, "--force"]) == 0
        assert instance.execute("SELECT count(*) FROM pedido_eventos").fetchone()[0] > 0
        instance.execute("UPDATE pedidos SET descricao = 'depois' WHERE id = 1")
    with closing(sqlite.connect(database)) as reader:
        assert reader.execute("SELECT descricao FROM pedidos WHERE id = 1").fetchone() == (
            "depois",
        )
    assert sqlite.integrity_problems(database) == []


def test_a_damaged_backup_is_not_restored(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = run_backup(sqlite_settings).taken
    packed = sqlite_settings.resolved_backup_dir / taken.file
    data = bytearray(packed.read_bytes())
    data[100] ^= 0x10
    packed.write_bytes(bytes(data))
    database = sqlite.database_file(sqlite_settings)
    before = database.read_bytes()
    assert main(["restore", taken.id]) == 1
    assert "SHA-256" in capsys.readouterr().err
    assert database.read_bytes() == before
    assert main(["restore", "20990101T000000.000Z"]) == 1
    assert "no backup 20990101T000000.000Z" in capsys.readouterr().err


def test_a_restore_empties_the_instances_cache(sqlite_settings: Settings, tmp_path: Path) -> None:
    taken = run_backup(sqlite_settings).taken
    with redis_server(tmp_path) as redis:
        client = Redis.from_url(redis.url)
        client.set(generation_key("clientes"), 41)
        settings = sqlite_settings.model_copy(update={"redis_url": redis.url})
        restored = restore(settings, taken.id, to=None, force=False)
        assert restored.cache == "emptied"
        assert client.get(generation_key("clientes")) == b"42"  # bumped, as by a write
        assert client.get(generation_key("tipos")) == b"1"
        assert client.get(revocations.KEY) == b"1"  # keys verified before: looked up again
        client.close()


def test_a_restore_renews_the_generations_kept_in_the_database(sqlite_settings: Settings) -> None:
    """Without Redis each instance caches answers at the generations found in the database
    (api/cache/local.py): the restored database must not bring back generations one of them has
    seen, nor none at all (read as "0", the one before any write)."""
    database = sqlite.database_file(sqlite_settings)
    names = list(GENERATION_KEYS)
    with closing(sqlite.connect(database)) as connection:  # as the instances' writes left them
        connection.executemany("REPLACE INTO contadores VALUES (?, 7)", [(n,) for n in names])
    taken = run_backup(sqlite_settings).taken  # a backup holding them: what an instance saw
    assert _generations(database) == dict.fromkeys(names, 7)

    restore(sqlite_settings, taken.id, to=None, force=False)
    assert _generations(database).keys() == set(names)
    assert 7 not in _generations(database).values()
    with closing(sqlite.connect(database)) as connection:  # and a backup without them at all
        connection.execute("DELETE FROM contadores WHERE nome LIKE 'fichas:generation:%'")
    taken = run_backup(sqlite_settings).taken
    restore(sqlite_settings, taken.id, to=None, force=False)
    assert _generations(database).keys() == set(names)


def _generations(database: Path) -> dict[str, int]:
    with closing(sqlite.connect(database)) as connection:
        rows = connection.execute("SELECT nome, valor FROM contadores").fetchall()
    return {name: value for name, value in rows if name.startswith(GENERATIONS)}


def _leftovers(database: Path) -> list[Path]:
    return sorted(p for p in database.parent.iterdir() if p.name.startswith(database.name))


def test_over_an_unreadable_database_it_moves_it_aside_and_restores(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    database = sqlite.database_file(sqlite_settings)
    source = content(database)
    taken = run_backup(sqlite_settings).taken
    garbage = b"this is no database " * 100
    database.write_bytes(garbage)  # a disk error, a bad copy: SQLite says "not a database"
    capsys.readouterr()

    for _ in range(2):  # and again: nothing piles up, nothing breaks
        assert main(["restore", taken.id]) == 0
        assert content(database) == source
    out = capsys.readouterr().out
    [aside] = database.parent.glob("fichas.db.unreadable-*")
    assert aside.read_bytes() == garbage
    assert f"moved the unreadable database it replaces aside as {aside}" in out
    assert "Traceback" not in out
    assert all(p.stat().st_size > 0 for p in _leftovers(database)), _leftovers(database)


def test_over_a_deleted_database_its_stale_log_is_moved_aside(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    database = sqlite.database_file(sqlite_settings)
    source = content(database)
    taken = run_backup(sqlite_settings).taken
    with closing(sqlite.connect(database)) as connection:  # a WAL with changes not yet merged
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        connection.execute("DELETE FROM pedido_eventos")
        wal = database.with_name("fichas.db-wal").read_bytes()
    database.unlink()  # the file lost, its -wal left behind
    database.with_name("fichas.db-wal").write_bytes(wal)

    assert main(["restore", taken.id]) == 0
    assert content(database) == source  # the old log was not replayed into the restored file
    [orphan] = database.parent.glob("fichas.db.orphan-*-wal")
    assert orphan.read_bytes() == wal
