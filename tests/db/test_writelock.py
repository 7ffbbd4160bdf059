"""The instances' writers queue on one lock beside the SQLite file: a second writer waits until
the first lets go (or dies), and the app's writes take it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.db.engine import write_lock
from api.db.writelock import WriteLock
from fichas.settings import Settings
from tests.support import assert_problem, make_token, migrated_engine

HOLD = """
import sys, time
from pathlib import Path
from api.db.writelock import WriteLock
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
