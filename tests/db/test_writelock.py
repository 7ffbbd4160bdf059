"""The instances' writers queue on one lock beside the SQLite file: a second writer waits until
the first lets go (or dies), and the app's writes take it."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection
from starlette.testclient import TestClient

from api.app import create_app
from api.db.engine import write_lock
from api.db.writelock import WriteLock
from backup import sqlite
from fichas.settings import Settings
from tests.support import assert_problem, make_token, migrated_engine

HOLD = """
import sys, time
from pathlib import Path
from api.db.writelock import WriteLock
from backup import sqlite
lock = WriteLock(Path(sys.argv[1]))
lock.__enter__()
print("held", flush=True)
time.sleep(60)
"""


class Waiter(threading.Thread):
    """Takes ``lock`` on its own thread, as another process's writer would."""

    def __init__(self, lock: WriteLock) -> None:
        super().__init__(daemon=True)
        self.lock = lock
        self.acquired = threading.Event()

    def run(self) -> None:
        with self.lock:
            self.acquired.set()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "fichas.db-writer.lock"


def test_a_second_writer_waits_until_the_first_lets_go(path: Path) -> None:
    first, second = WriteLock(path), WriteLock(path)  # two open files, as in two processes
    waiter = Waiter(second)
    with first:
        waiter.start()
        assert not waiter.acquired.wait(0.5)
    assert waiter.acquired.wait(10)
    waiter.join(10)  # it lets go before its file is closed
    first.close()
    second.close()


@pytest.mark.slow
def test_a_holder_that_dies_releases_the_lock(path: Path) -> None:
    argv = [sys.executable, "-c", HOLD, str(path)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            waiter = Waiter(WriteLock(path))
            waiter.start()
            assert not waiter.acquired.wait(0.5)
            holder.kill()  # kill -9: no chance to let go by itself
            assert waiter.acquired.wait(10)
            waiter.join(10)
            waiter.lock.close()
        finally:
            holder.kill()


@pytest.mark.slow
def test_the_apps_writes_take_the_lock_and_reads_do_not(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, db_busy_timeout_ms=300)
    engine = migrated_engine(settings)
    token = make_token(engine, "pc", ["read", "write"])
    engine.dispose()
    other_instance = write_lock(settings)
    assert other_instance is not None
    assert other_instance.path.parent == tmp_path
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        with other_instance:
            # Waits its budget (busy timeout + 1 s) behind the other writer, then 503.
            waited = client.post("/clientes", json={"nome": "A"})
            assert_problem(waited, 503, "database-unavailable")
            assert client.get("/clientes").status_code == 200
        assert client.post("/clientes", json={"nome": "B"}).status_code == 201
    other_instance.close()


def test_postgresql_needs_no_lock() -> None:
    assert write_lock(Settings(database_url="postgresql+psycopg://u@127.0.0.1/db")) is None


def test_try_acquire_never_waits_for_another_process_nor_another_thread(path: Path) -> None:
    mine, other_process = WriteLock(path), WriteLock(path)
    with other_process:
        assert not mine.try_acquire()
    assert mine.try_acquire()  # free: taken
    assert not other_process.try_acquire()
    taken_elsewhere = threading.Event()
    thread = threading.Thread(target=lambda: taken_elsewhere.set() if mine.try_acquire() else None)
    thread.start()
    thread.join(10)
    assert not taken_elsewhere.is_set()  # the same lock, from another thread of this process
    mine.__exit__()
    assert other_process.try_acquire()
    other_process.__exit__()
    mine.close()
    other_process.close()


def _writer_thread(client: TestClient, hold: Callable[[], AbstractContextManager[object]]) -> str:
    """The thread a write transaction ran on, while ``hold`` held something for 0.3 s."""
    db = client.app.state.services.db  # type: ignore[attr-defined]
    ran_on: list[str] = []

    def insert(conn: Connection) -> None:
        ran_on.append(threading.current_thread().name)
        conn.exec_driver_sql("INSERT INTO contadores VALUES (?, 1)", (f"t-{uuid.uuid4()}",))

    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with hold():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    threading.Timer(0.3, release.set).start()
    client.portal.call(db.write, insert)  # type: ignore[union-attr]
    thread.join(10)
    return ran_on[-1]


def test_a_write_runs_on_the_loop_unless_it_would_wait(tmp_path: Path) -> None:
    """Free, a write runs where the request is served; behind another process's writer or a
    writer from outside the instances' queue (the CLI, a restore), on the writer thread, which
    waits for it (api/db/gateway.py)."""
    settings = Settings(data_dir=tmp_path)
    migrated_engine(settings).dispose()
    database = tmp_path / "fichas.db"
    other_instance = write_lock(settings)
    assert other_instance is not None

    @contextmanager
    def sqlite_lock() -> Iterator[object]:
        with closing(sqlite.connect(database)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("ROLLBACK")

    with TestClient(create_app(settings)) as client:
        assert not _writer_thread(client, nullcontext).startswith("fichas-db-write")
        assert _writer_thread(client, lambda: other_instance).startswith("fichas-db-write")
        assert _writer_thread(client, sqlite_lock).startswith("fichas-db-write")
        assert not _writer_thread(client, nullcontext).startswith("fichas-db-write")
    with closing(sqlite.connect(database)) as connection:
        names = connection.execute("SELECT nome FROM contadores WHERE nome LIKE 't-%'")
        assert len(names.fetchall()) == 4  # each written once, wherever it ran
    other_instance.close()
