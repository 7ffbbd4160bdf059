"""Acceptance: three server processes opening pedidos at once on one database stay correct.

Three real ``fichas serve`` processes share one database (a single SQLite file, or one
PostgreSQL database). 600 ``POST /pedidos`` go out at the same time, 200 to each process, every
one with its own Idempotency-Key; a fifth of them (120) are sent a second time with the same key
and body to a *different* process, mixed into the same wave, so the twins race each other across
processes. This proves that under that load:

- no request fails (no 5xx, in particular no "database is locked"), every answer is a 201;
- each Idempotency-Key made exactly one pedido: both answers of a twin carry the same pedido,
  and exactly one of them is the original (the other says ``Idempotent-Replayed: true``);
- the database holds exactly 600 pedidos, numbered 1..600 with no duplicate and no gap, each with
  exactly one evento (its creation), and one stored response per key;
- on SQLite, ``PRAGMA integrity_check`` still answers ``ok`` after three processes wrote the file.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import Engine, func, select, text

from api.db.engine import build_engine
from api.db.tables import contadores, idempotency_keys, pedido_eventos, pedidos
from fichas.settings import Settings
from tests.conftest import require_postgres
from tests.support import make_token, migrated_engine, running_server, throwaway_postgres

SERVERS = 3
PER_SERVER = 200
ORDERS = SERVERS * PER_SERVER
RETRIED = ORDERS // 5
TIMEOUT = httpx2.Timeout(30.0)


@dataclass(frozen=True)
class Sent:
    """One POST of the wave: which key and which server, and what came back."""

    key: str
    server: int
    status: int
    body: dict[str, Any]
    replayed: bool


@contextmanager
def database(backend: str, data_dir: Path) -> Iterator[Settings]:
    """Settings for a fresh database of the given kind, removed afterwards."""
    if backend == "sqlite":
        yield Settings(data_dir=data_dir)
        return
    require_postgres()
    with throwaway_postgres(f"fichas_concurrency_{uuid.uuid4().hex[:8]}") as url:
        yield Settings(data_dir=data_dir, database_url=url)


def server_env(settings: Settings) -> dict[str, str]:
    return {
        "FICHAS_DATA_DIR": str(settings.data_dir),
        "FICHAS_DATABASE_URL": settings.resolved_database_url,
        "FICHAS_AUTH_CACHE_SECONDS": "300",
        "FICHAS_LOG_LEVEL": "warning",
    }


def reference_data(base_url: str, token: str) -> tuple[int, int]:
    """One cliente and one tipo de produção, created over HTTP; returns their ids."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=base_url, headers=headers, timeout=TIMEOUT) as client:
        cliente = client.post("/clientes", json={"nome": "Confecções Concorrentes"})
        assert cliente.status_code == 201, cliente.text
        tipo = client.post(
            "/producoes/tipos",
            json={"codigo": "bordado", "nome": "Bordado", "prazo_padrao_dias": 5},
        )
        assert tipo.status_code == 201, tipo.text
        return cliente.json()["id"], tipo.json()["id"]


async def wave(
    servers: list[str], token: str, cliente_id: int, tipo_id: int
) -> tuple[list[Sent], float]:
    """Send every POST at once (originals and retries shuffled together); returns the answers."""
    plan: list[tuple[int, int]] = [(n, n // PER_SERVER) for n in range(ORDERS)]
    # Every fifth order again, to the next server: the twins race across processes.
    plan += [(n, (n // PER_SERVER + 1) % SERVERS) for n in range(0, ORDERS, 5)]
    assert len(plan) == ORDERS + RETRIED
    random.Random(20260501).shuffle(plan)
    limits = httpx2.Limits(max_connections=len(plan) + 50, max_keepalive_connections=len(plan))
    headers = {"Authorization": f"Bearer {token}"}

    async with httpx2.AsyncClient(headers=headers, limits=limits, timeout=TIMEOUT) as client:

        async def post(n: int, server: int) -> Sent:
            key = f"wave-{n:04d}"
            body = {
                "cliente_id": cliente_id,
                "tipo_id": tipo_id,
                "descricao": f"pedido {n} da onda concorrente",
                "quantidade": n + 1,
                "valor_unitario": 1990,
            }
            response = await client.post(
                f"{servers[server]}/pedidos", json=body, headers={"Idempotency-Key": key}
            )
            try:
                parsed: dict[str, Any] = response.json()
            except ValueError:
                parsed = {"unparsed": response.text}
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            return Sent(key, server, response.status_code, parsed, replayed)

        started = time.monotonic()
        sent = await asyncio.gather(*(post(n, server) for n, server in plan))
        return list(sent), time.monotonic() - started


def first_traceback(logs: dict[str, str]) -> str:
    for name, log in logs.items():
        start = log.find("Traceback")
        if start >= 0:
            return f"{name}:\n{log[max(0, start - 300) : start + 4000]}"
    return "(no traceback in the server logs)"


def check_answers(sent: list[Sent], logs: dict[str, str]) -> dict[str, int]:
    """Every answer is a 201 and each key maps to one pedido; returns key -> pedido id."""
    failures = [s for s in sent if s.status >= 500]
    assert not failures, (
        f"{len(failures)} server errors, e.g. {failures[:3]}\n{first_traceback(logs)}"
    )
    unexpected = [s for s in sent if s.status != 201]
    assert not unexpected, f"{len(unexpected)} non-201 answers, e.g. {unexpected[:3]}"

    by_key: dict[str, list[Sent]] = defaultdict(list)
    for answer in sent:
        by_key[answer.key].append(answer)
    assert len(by_key) == ORDERS
    assert sum(len(answers) == 2 for answers in by_key.values()) == RETRIED

    ids: dict[str, int] = {}
    for key, answers in by_key.items():
        assert len({(a.body["id"], a.body["numero"]) for a in answers}) == 1, (key, answers)
        assert len({a.server for a in answers}) == len(answers), (key, answers)
        # Whichever twin arrived first made the pedido; the other was answered from the store.
        assert [a.replayed for a in answers].count(False) == 1, (key, answers)
        ids[key] = answers[0].body["id"]
    assert len(set(ids.values())) == ORDERS, "two keys got the same pedido"
    return ids


def check_database(engine: Engine, ids: dict[str, int]) -> None:
    """Exactly the answered pedidos exist, numbered 1..N, each with its creation evento."""
    with engine.connect() as conn:
        rows = conn.execute(select(pedidos.c.id, pedidos.c.numero, pedidos.c.descricao)).all()
        assert {row.id for row in rows} == set(ids.values())
        numeros = sorted(row.numero for row in rows)
        assert numeros == list(range(1, ORDERS + 1)), "numero is not unique and gap-free"
        assert {row.descricao for row in rows} == {
            f"pedido {int(key.removeprefix('wave-'))} da onda concorrente" for key in ids
        }

        eventos = conn.execute(
            select(pedido_eventos.c.pedido_id, func.count(), func.min(pedido_eventos.c.para))
            .where(pedido_eventos.c.de.is_(None))
            .group_by(pedido_eventos.c.pedido_id)
        ).all()
        assert {(e[0], e[1], e[2]) for e in eventos} == {(i, 1, "aberto") for i in ids.values()}
        assert conn.execute(select(func.count()).select_from(pedido_eventos)).scalar_one() == (
            ORDERS
        )

        stored = conn.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
        assert stored == ORDERS
        counter = conn.execute(
            select(contadores.c.valor).where(contadores.c.nome == "pedidos")
        ).scalar_one()
        assert counter == ORDERS


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_three_processes_open_pedidos_concurrently(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path / "data") as settings:
        engine = migrated_engine(settings)
        try:
            token = make_token(engine, "pc-concorrencia", ["read", "write"])
            env = server_env(settings)
            with ExitStack() as stack:
                servers = [
                    stack.enter_context(running_server(env, tmp_path / f"server-{i}.log"))
                    for i in range(SERVERS)
                ]
                cliente_id, tipo_id = reference_data(servers[0], token)
                sent, elapsed = asyncio.run(wave(servers, token, cliente_id, tipo_id))
            logs = {p.name: p.read_text() for p in sorted(tmp_path.glob("server-*.log"))}
            print(f"{backend}: {len(sent)} POSTs in {elapsed:.1f} s")
            ids = check_answers(sent, logs)
            assert not any("Traceback" in log for log in logs.values()), first_traceback(logs)
            check_database(engine, ids)
        finally:
            engine.dispose()

    if backend == "sqlite":
        checker = build_engine(settings)
        try:
            with checker.connect() as conn:
                result = conn.execute(text("PRAGMA integrity_check")).scalars().all()
        finally:
            checker.dispose()
        assert result == ["ok"]
