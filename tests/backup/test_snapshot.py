"""Snapshots: complete and checked; taken while three server processes keep writing, without
holding them up; and a run killed mid-write leaves nothing that looks like a backup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, closing
from pathlib import Path

import httpx2
import pytest

from api.db import migrate
from backup import manifest, snapshot, sqlite, store
from backup.manifest import BackupError
from fichas.cli import main
from fichas.settings import Settings
from tests.backup.conftest import add_demo_data, content
from tests.support import make_token, migrated_engine, running_server


def test_a_snapshot_holds_the_database(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = sqlite_settings.resolved_backup_dir
    directory.mkdir()
    taken = snapshot.take(sqlite_settings, directory)
    assert sorted(p.name for p in directory.iterdir()) == [f"{taken.id}.json", taken.file]
    assert manifest.complete(directory) == [taken]
    assert not taken.verified  # verification is the job's next step
    assert taken.row_counts["pedidos"] == 300
    assert taken.row_counts["clientes"] == 50
    assert taken.schema_revision == migrate.head_revision()
    assert taken.engine_version.startswith("SQLite 3.")
    assert (
        taken.stored_bytes < taken.raw_bytes == sqlite.database_file(sqlite_settings).stat().st_size
    )

    capsys.readouterr()
    assert main(["backup", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["id", "kind", "database", "stored", "pedidos", "verified"]
    assert listed[1].split()[:2] == [taken.id, "sqlite"]
    assert listed[1].split()[-2:] == ["300", "NO"]

    # Unpacked, it is the database row for row.
    assert main(["restore", taken.id, "--to", str(tmp_path / "copy.db")]) == 0
    assert content(tmp_path / "copy.db") == content(sqlite.database_file(sqlite_settings))


def test_no_database_no_backup(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(BackupError, match="nothing to back up"):
        snapshot.take(settings, tmp_path)
    assert list(tmp_path.iterdir()) == []


class Writer(threading.Thread):
    """POSTs pedidos to one server without pause; records each acknowledgement's time."""

    def __init__(self, url: str, token: str, stop: threading.Event) -> None:
        super().__init__()
        self.url, self.token, self.stop = url, token, stop
        self.acknowledged: list[tuple[float, int]] = []  # (when the 201 arrived, pedido id)
        self.errors: list[str] = []
        self.slowest = 0.0

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        body = {"cliente_id": 1, "tipo_id": 1, "descricao": "bonés", "quantidade": 5,
                "valor_unitario": 990}  # fmt: skip
        with httpx2.Client(base_url=self.url, headers=headers, timeout=10) as client:
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    answer = client.post("/pedidos", json=body)
                except httpx2.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                now = time.monotonic()
                self.slowest = max(self.slowest, now - sent)
                if answer.status_code == 201:
                    self.acknowledged.append((now, answer.json()["id"]))
                else:
                    self.errors.append(f"{answer.status_code} {answer.text[:200]}")


def test_snapshot_while_three_processes_write(sqlite_settings: Settings, tmp_path: Path) -> None:
    """The acceptance test: 3 ``fichas serve`` processes insert pedidos without pause while
    snapshots are taken; each snapshot is sound and holds every pedido acknowledged before it
    began, and no writer saw an error or waited a second."""
    add_demo_data(sqlite_settings, clientes=1000, pedidos=20_000)  # ~10 MB
    token = make_token(migrated_engine(sqlite_settings), "pc-backup", ["read", "write"])
    env = {"FICHAS_DATA_DIR": str(sqlite_settings.data_dir), "FICHAS_LOG_LEVEL": "warning",
           "FICHAS_RATE_LIMIT_WRITE": "1000000/minute"}  # fmt: skip
    directory = sqlite_settings.resolved_backup_dir
    directory.mkdir()
    stop = threading.Event()
    snapshots = []
    with ExitStack() as stack:
        urls = [
            stack.enter_context(running_server(env, tmp_path / f"server-{n}.log")) for n in range(3)
        ]
        writers = [Writer(url, token, stop) for url in urls]
        for writer in writers:
            writer.start()
        try:
            time.sleep(2)  # all three are writing
            for _ in range(3):
                began = time.monotonic()
                snapshots.append((began, snapshot.take(sqlite_settings, directory)))
                time.sleep(0.5)
        finally:
            stop.set()
            for writer in writers:
                writer.join()

    assert not [e for w in writers for e in w.errors], [w.errors[:3] for w in writers]
    assert all(len(w.acknowledged) > 50 for w in writers), "the writers did not get going"
    assert max(w.slowest for w in writers) < 1.0
    for began, taken in snapshots:
        restored = tmp_path / f"{taken.id}.db"
        assert main(["restore", taken.id, "--to", str(restored)]) == 0  # checks integrity too
        assert sqlite.integrity_problems(restored) == []
        with closing(sqlite.connect(restored)) as connection:
            held = {row[0] for row in connection.execute("SELECT id FROM pedidos")}
        before = {pedido for w in writers for at, pedido in w.acknowledged if at < began}
        assert before, "no write was acknowledged before the snapshot"
        assert before <= held, f"{len(before - held)} acknowledged pedidos missing"


def test_a_run_killed_mid_write_leaves_no_complete_backup(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 while the snapshot's temporary files are being written: ``list`` shows nothing,
    and the next run sweeps the leftovers away and succeeds."""
    add_demo_data(sqlite_settings, clientes=1000, pedidos=20_000)  # a run long enough to kill
    directory = sqlite_settings.resolved_backup_dir
    process = subprocess.Popen(
        [sys.executable, "-m", "fichas.cli", "backup", "run"], env=dict(os.environ)
    )
    try:
        deadline = time.monotonic() + 60
        while not (directory.exists() and list(directory.glob(f"*{store.TEMPORARY}"))):
            assert process.poll() is None, "the backup ended before it could be killed"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.001)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert list(directory.glob(f"*{store.TEMPORARY}")), "killed after the files were published"
    assert manifest.complete(directory) == []
    capsys.readouterr()
    assert main(["backup", "list"]) == 0
    assert capsys.readouterr().out.startswith("no backups in")

    assert main(["backup", "run"]) == 0
    assert not list(directory.glob(f"*{store.TEMPORARY}"))
    assert len(manifest.complete(directory)) == 1
