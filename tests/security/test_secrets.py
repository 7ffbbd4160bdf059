"""Secrets are never stored or logged (issue 17, point 3).

A new key's token is in exactly one answer, never in the Idempotency-Key store; the first admin
key reaches a terminal, never a log stream; stored answers expire and are pruned.
"""

from __future__ import annotations

import os
import pty
import select as selectors
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from api.app import create_app
from api.db.tables import api_keys, idempotency_keys
from fichas.processes import free_port, stop_process
from fichas.settings import Settings, SettingsError, load_settings
from tests.integration.test_cluster import running_cluster
from tests.routes.test_idempotency import age_records
from tests.support import assert_problem, metric

STARTUP_SECONDS = 60


def _rows(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_new_key_is_never_stored_as_an_idempotent_answer(
    admin: TestClient, engine: Engine
) -> None:
    keys_before = _rows(engine, api_keys)
    refused = admin.post(
        "/chaves", json={"nome": "pc-corte-01"}, headers={"Idempotency-Key": "nova-chave-1"}
    )
    assert_problem(refused, 400, "idempotency-key-refused")
    # Refused before anything was done: no key to retry blindly into a duplicate, nothing stored.
    assert _rows(engine, api_keys) == keys_before
    assert _rows(engine, idempotency_keys) == 0
    created = admin.post("/chaves", json={"nome": "pc-corte-01"})
    assert created.status_code == 201
    assert _rows(engine, idempotency_keys) == 0


def test_the_contract_says_post_chaves_takes_no_idempotency_key(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    create_chave = paths["/chaves"]["post"]
    assert "Idempotency-Key" not in {p["name"] for p in create_chave["parameters"]}
    assert "`Idempotency-Key` is refused" in create_chave["description"]
    assert "400" in create_chave["responses"]
    # The other creating POSTs still offer it: the flag is per operation.
    create_cliente = paths["/clientes"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in create_cliente["parameters"]}


def _first_start(data_dir: Path, output: int) -> subprocess.Popen[bytes]:
    """``fichas serve --migrate`` on an empty data dir, its stdout and stderr on ``output`` (a
    pipe's or a terminal's end)."""
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir), "FICHAS_LOG_LEVEL": "info"}
    env.pop("FICHAS_DATABASE_URL", None)
    listen = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "fichas.cli", "serve", "--migrate", "--listen", listen]
    return subprocess.Popen(argv, env=env, stdout=output, stderr=output)


def _read_until_serving(process: subprocess.Popen[bytes], fd: int) -> bytes:
    """What ``process`` wrote on ``fd`` until it said it serves."""
    seen = b""
    deadline = time.monotonic() + STARTUP_SECONDS
    while b"fichas serving" not in seen:
        assert process.poll() is None, f"fichas serve stopped:\n{seen.decode(errors='replace')}"
        assert time.monotonic() < deadline, f"fichas serve did not start:\n{seen!r}"
        if selectors.select([fd], [], [], 0.2)[0]:
            seen += os.read(fd, 65536)
    return seen


def _admin_key(data_dir: Path) -> str:
    path = data_dir / "admin.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


def _first_start_output(data_dir: Path, ours: int, theirs: int) -> bytes:
    """What a first ``fichas serve --migrate`` writes to stdout (``theirs``, read on ``ours``)
    until it serves."""
    process = _first_start(data_dir, theirs)
    os.close(theirs)
    try:
        return _read_until_serving(process, ours)
    finally:
        stop_process(process, timeout=15)
        os.close(ours)


def test_the_first_admin_key_stays_out_of_a_piped_stdout(tmp_path: Path) -> None:
    # A pipe is what a log shipper, the journal or `docker compose logs` reads.
    output = _first_start_output(tmp_path, *os.pipe())
    token = _admin_key(tmp_path)
    assert token.startswith("fichas_")
    assert token.encode() not in output
    assert str(tmp_path / "admin.key").encode() in output  # where to find it instead


def test_the_first_admin_key_is_shown_on_a_terminal(tmp_path: Path) -> None:
    output = _first_start_output(tmp_path, *pty.openpty())
    assert _admin_key(tmp_path).encode() in output


def test_fichas_up_writes_no_admin_key_into_its_log(tmp_path: Path) -> None:
    with running_cluster(tmp_path, "--instances", "1") as cluster:
        assert cluster.token.startswith("fichas_")
        log = cluster.log_path.read_text()
    assert "admin.key" in log
    assert cluster.token not in log


def test_expired_records_are_pruned_in_the_background_and_counted(
    api: TestClient, settings: Settings, engine: Engine
) -> None:
    for n in range(3):
        headers = {"Idempotency-Key": f"poda-{n}"}
        assert api.post("/clientes", json={"nome": f"C{n}"}, headers=headers).is_success
    age_records(engine, 2, "poda-0", "poda-1")
    # An instance starting now: the records outlived its TTL of 1 h, and nobody asks for them.
    with TestClient(create_app(settings.model_copy(update={"idempotency_ttl": 3600}))) as fresh:
        deadline = time.monotonic() + STARTUP_SECONDS
        while metric(fresh.get("/metrics").text, "fichas_idempotency_records") != 1:
            assert time.monotonic() < deadline, "the expired records were not pruned"
            time.sleep(0.1)
    assert _rows(engine, idempotency_keys) == 1


@pytest.mark.parametrize(("value", "seconds"), [("90", 90), ("30m", 1800), ("2d", 172_800)])
def test_the_idempotency_ttl_takes_a_duration(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("FICHAS_IDEMPOTENCY_TTL", value)
    assert load_settings().idempotency_ttl == seconds


@pytest.mark.parametrize("value", ["0", "-1h", "a day"])
def test_a_bad_idempotency_ttl_stops_the_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FICHAS_IDEMPOTENCY_TTL", value)
    with pytest.raises(SettingsError, match="FICHAS_IDEMPOTENCY_TTL") as raised:
        load_settings()
    assert "unknown setting" not in str(raised.value)
