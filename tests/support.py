"""Helpers the tests share: databases, keys, and real server processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trustme
from sqlalchemy import Engine, MetaData, text
from sqlalchemy.engine import make_url

from api.auth.keys import issue
from api.db import migrate
from api.db.engine import build_engine, writing
from api.db.tables import metadata
from fichas.processes import free_port, stop_process
from fichas.settings import Settings
from proxy.caddy import OwnCertificate

POSTGRES_URL = os.environ.get(
    "FICHAS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_reachable() -> str | None:
    """None if the test server answers, else why not."""
    url = make_url(POSTGRES_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2).close()
    except OSError as exc:
        return f"no PostgreSQL at {url.host}:{url.port} ({exc}); set FICHAS_TEST_POSTGRES_URL"
    return None


@contextmanager
def throwaway_postgres(name: str) -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards; yields its URL."""
    admin = build_engine(Settings(database_url=POSTGRES_URL))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def row_count(database_url: str, table: str) -> int:
    """How many rows ``table`` holds in the database at ``database_url``."""
    engine = build_engine(Settings(database_url=database_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
    finally:
        engine.dispose()


def migrated_engine(settings: Settings) -> Engine:
    engine = build_engine(settings)
    migrate.upgrade(engine)
    return engine


def wipe(engine: Engine, tables: MetaData = metadata) -> None:
    """Empty every table and reset the pedido counter, keeping the schema."""
    with writing(engine) as conn:
        for table in reversed(tables.sorted_tables):
            conn.execute(table.delete())
        conn.execute(text("INSERT INTO contadores (nome, valor) VALUES ('pedidos', 0)"))
        if engine.dialect.name == "postgresql":
            for table in tables.sorted_tables:
                if "id" in table.c:
                    conn.execute(text(f"ALTER SEQUENCE {table.name}_id_seq RESTART"))


def make_token(engine: Engine, name: str, scopes: list[str]) -> str:
    with writing(engine) as conn:
        return issue(conn, name, scopes)[1]


@contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """A real ``fichas serve`` process on a free loopback port; yields its base URL.

    Stopped with SIGTERM (SIGKILL if it lingers) by PID when the block ends.
    """
    port = free_port()
    full_env = {**os.environ, **env, "FICHAS_LISTEN": f"127.0.0.1:{port}"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fichas.cli", "serve"], env=full_env, stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # imports alone take seconds on a busy machine
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
            try:
                if httpx2.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base_url
    finally:
        stop_process(process, timeout=15)


def assert_problem(response: httpx2.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of the given status and type; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:fichas:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def create(client: httpx2.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def new_cliente(client: httpx2.Client, **fields: Any) -> dict[str, Any]:
    return create(client, "/clientes", {"nome": "Maria Souza", **fields})


def new_tipo(client: httpx2.Client, **fields: Any) -> dict[str, Any]:
    body = {"codigo": f"t-{uuid.uuid4().hex[:8]}", "nome": "Bordado", "prazo_padrao_dias": 5}
    return create(client, "/producoes/tipos", {**body, **fields})


def new_pedido(client: httpx2.Client, **fields: Any) -> dict[str, Any]:
    if "cliente_id" not in fields:
        fields["cliente_id"] = new_cliente(client)["id"]
    if "tipo_id" not in fields:
        fields["tipo_id"] = new_tipo(client)["id"]
    body = {"descricao": "50 camisetas", "quantidade": 50, "valor_unitario": 1990, **fields}
    return create(client, "/pedidos", body)


def own_certificate(directory: Path) -> OwnCertificate:
    """A certificate for fichas.local and 127.0.0.1 from a throwaway CA (its root in ca.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    issued = ca.issue_cert("fichas.local", "127.0.0.1")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    issued.private_key_pem.write_to_path(str(directory / "key.pem"))
    issued.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    return OwnCertificate(directory / "cert.pem", directory / "key.pem")


def promtool(*args: str, stdin: str | None = None) -> str:
    """Run ``promtool`` (Debian's prometheus package; .ci/run installs it); fail the test unless
    it succeeds. Its output."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (.ci/run does)")
    done = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def assert_promtool_accepts(exposition: str) -> None:
    """``promtool check metrics`` finds nothing to say about these metrics."""
    promtool("check", "metrics", stdin=exposition)


def metric(exposition: str, series: str) -> float:
    """The value of one series (name and labels, as exposed) in a /metrics text; 0 if absent,
    as an unlabelled counter that has not moved yet would read."""
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rpartition(" ")[2])
    return 0.0


def process_alive(pid: int) -> bool:
    """Whether a process with this PID exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_fichas(
    data_dir: Path, *arguments: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``fichas ARGUMENTS`` in a process of its own on the SQLite database of ``data_dir``, as an
    operator runs it; its exit status and output, whatever they are."""
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir)}
    env.pop("FICHAS_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "fichas.cli", *arguments],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    """Until ``text`` shows in ``log``; an error with the log if the process ended first."""
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"waited for {text!r}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
