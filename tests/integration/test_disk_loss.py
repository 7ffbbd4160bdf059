"""The disk-loss drill, for real: 25 PCs write orders through ``fichas up``; every process is
killed (``kill -9``) and the database files deleted; ``fichas restore --latest`` rebuilds the
database from Litestream's replica and ``fichas up`` serves again. Every order acknowledged more
than a second before the kill is there. And Litestream killed under load is restarted by the
supervisor, its replica missing nothing.

The figures (acknowledged orders lost, seconds from the restore command to serving) are printed
with ``-s``; docs/BENCHMARKS.md records them over several drills (benchmarks/disk_loss.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from backup import sqlite
from tests.integration.test_cluster import Cluster, running_cluster
from tests.support import metric

PCS = 25
THINK_SECONDS = 0.05  # between one PC's orders: ~25 × 15 writes/s, well within one host's pace
RPO_SECONDS = 1.0


@dataclass
class Acknowledged:
    """Each order the API answered 201, with when the answer arrived."""

    at: dict[int, float] = field(default_factory=dict)  # pedido id → time of the 201
    failures: list[str] = field(default_factory=list)


async def _write(cluster: Cluster, seconds: float, acknowledged: Acknowledged) -> None:
    """``PCS`` clients writing orders (each with an Idempotency-Key) for ``seconds``."""
    headers = {"Authorization": f"Bearer {cluster.token}"}
    limits = httpx2.Limits(max_connections=PCS)
    async with httpx2.AsyncClient(
        base_url=cluster.base_url, headers=headers, timeout=10, limits=limits
    ) as client:
        cliente = (await client.post("/clientes", json={"nome": "Drill"})).json()["id"]
        tipo = (
            await client.post(
                "/producoes/tipos", json={"codigo": f"drill-{time.time_ns()}", "nome": "Drill"}
            )
        ).json()["id"]
        deadline = time.monotonic() + seconds

        async def pc(number: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                body = {
                    "cliente_id": cliente,
                    "tipo_id": tipo,
                    "descricao": f"PC {number} #{n}",
                    "quantidade": 1,
                    "valor_unitario": 100,
                }
                key = {"Idempotency-Key": f"drill-{number}-{n}-{time.time_ns()}"}
                try:
                    response = await client.post("/pedidos", json=body, headers=key)
                except httpx2.HTTPError as exc:
                    acknowledged.failures.append(repr(exc))
                else:
                    if response.status_code == 201:
                        acknowledged.at[response.json()["id"]] = time.time()
                    else:
                        acknowledged.failures.append(f"{response.status_code} {response.text}")
                await asyncio.sleep(THINK_SECONDS)

        await asyncio.gather(*(pc(n) for n in range(PCS)))


def _pids(cluster: Cluster) -> list[int]:
    """The supervisor first (so that it restarts nothing), then every process it runs."""
    status = cluster.status()
    children = [*status["instances"], status["proxy"], *status["companions"]]
    return [status["supervisor_pid"], *(child["pid"] for child in children)]


def _pedidos(database: Path) -> set[int]:
    with closing(sqlite.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM pedidos")}


def _fichas(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir)}
    env.pop("FICHAS_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *arguments],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_lost_disk_loses_no_order_acknowledged_a_second_before(tmp_path: Path) -> None:
    acknowledged = Acknowledged()
    database = tmp_path / "fichas.db"
    with running_cluster(tmp_path, "--instances", "2") as cluster:

        async def drill() -> float:
            writing = asyncio.create_task(_write(cluster, 60, acknowledged))
            await asyncio.sleep(20)
            killed_at = time.time()
            for pid in _pids(cluster):
                os.kill(pid, signal.SIGKILL)
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
            return killed_at

        killed_at = asyncio.run(drill())
    assert len(acknowledged.at) > PCS * 20, f"the PCs hardly wrote: {len(acknowledged.at)}"

    # The disk is lost: the database, its WAL, Litestream's local state beside it.
    for lost in (database, *sqlite.sidecars(database)):
        lost.unlink(missing_ok=True)
    subprocess.run(["rm", "-rf", str(tmp_path / ".fichas.db-litestream")], check=True)
    refused = _fichas(tmp_path, "up", "--listen", "127.0.0.1:1")
    assert refused.returncode == 2  # no silent fresh start: it points at the replica
    assert "`fichas restore --latest`" in refused.stderr, refused.stderr

    started = time.monotonic()
    restored = _fichas(tmp_path, "restore", "--latest")
    assert restored.returncode == 0, restored.stderr
    restore_seconds = time.monotonic() - started
    present = _pedidos(database)
    with running_cluster(tmp_path, "--instances", "2") as cluster, cluster.client() as client:
        assert client.get("/health").status_code == 200
        serving_seconds = time.monotonic() - started
        newest = max(acknowledged.at)
        assert client.get(f"/pedidos/{newest}").status_code in (200, 404)

    due = {pid for pid, at in acknowledged.at.items() if at < killed_at - RPO_SECONDS}
    missing = due - present
    assert not missing, f"{len(missing)} orders acknowledged over a second before the kill lost"
    lost = set(acknowledged.at) - present
    worst = max((killed_at - acknowledged.at[pid] for pid in lost), default=0.0)
    print(
        f"\ndisk-loss drill: {len(acknowledged.at)} orders acknowledged, {len(lost)} lost "
        f"(acknowledged within {worst:.2f} s of the kill); restore {restore_seconds:.1f} s, "
        f"serving again {serving_seconds:.1f} s after the restore command"
    )


def test_litestream_killed_under_load_is_restarted_and_its_replica_misses_nothing(
    tmp_path: Path,
) -> None:
    acknowledged = Acknowledged()
    with running_cluster(tmp_path, "--instances", "2") as cluster:
        [litestream] = [c for c in cluster.status()["companions"] if c["name"] == "litestream"]

        async def load() -> None:
            writing = asyncio.create_task(_write(cluster, 15, acknowledged))
            await asyncio.sleep(5)
            os.kill(litestream["pid"], signal.SIGKILL)
            await writing

        asyncio.run(load())
        assert not acknowledged.failures, acknowledged.failures[:5]
        [after] = [c for c in cluster.status()["companions"] if c["name"] == "litestream"]
        assert (after["restarts"], after["pid"] != litestream["pid"]) == (1, True)
        metrics_url = cluster.status()["metrics_url"]
        deadline = time.monotonic() + 30
        while True:  # the restarted Litestream catches up with what it missed
            exposition = httpx2.get(metrics_url, timeout=10).text
            if metric(exposition, "fichas_replication_lag_seconds") == 0:
                time.sleep(1.5)  # lag is exact to a second: past the next one, all is there
                break
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.5)
        assert metric(exposition, 'fichas_process_restarts_total{process="litestream"}') == 1
        replica = tmp_path / "from-replica.db"
        restored = _fichas(tmp_path, "restore", "--latest", "--to", str(replica))
        assert restored.returncode == 0, restored.stderr
    missing = set(acknowledged.at) - _pedidos(replica)
    assert not missing, f"{len(missing)} of {len(acknowledged.at)} orders not in the replica"
