"""The system under load: a cluster of our own on free ports, or one given by URL; and the
temporary API keys the virtual PCs use, revoked when the run ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fichas.processes import free_port, stop_process


class TargetError(Exception):
    """The system under test could not be started or reached; the message says why."""


class RedisServer:
    """A throwaway ``redis-server`` of our own on a free loopback port (never a shared one),
    which a chaos run or a fault test may kill and start again on the same port. It keeps
    nothing on disk. Stopped by PID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        with (self.directory / f"redis-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=log)  # noqa: S603
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str
    status_path: Path | None = None  # our own cluster's status file (for chaos)
    redis: RedisServer | None = None  # our own cluster's Redis (for chaos)

    def instance_pids(self) -> dict[str, int]:
        if self.status_path is None:
            raise TargetError("only a cluster the load test started itself can be broken")
        status = json.loads(self.status_path.read_text())
        return {i["name"]: i["pid"] for i in status["instances"]}


# This environment's fichas; the installed-wheel test passes another installation's.
FICHAS = (sys.executable, "-m", "fichas.cli")


@contextmanager
def own_cluster(
    data_dir: Path,
    instances: int,
    log_path: Path,
    redis: RedisServer | None = None,
    database_url: str | None = None,
    up_options: Sequence[str] = (),
    fichas: Sequence[str] = FICHAS,
) -> Iterator[Target]:
    """``fichas up`` (with ``up_options``) on demo data (500 clientes, 3,000 pedidos) — in a fresh
    SQLite file, or in the database ``database_url`` names (migrated, and loaded unless it was
    already) — on free loopback ports, with ``redis`` as its cache if given; stopped by PID
    (SIGTERM, then SIGKILL) when the block ends. The commands run in ``data_dir``, so that only
    the installation ``fichas`` names is on their path, never a checkout they were started from.
    Neither a database nor a Redis of the caller's environment is used unless passed here."""
    env = {"FICHAS_LOG_LEVEL": "warning", **os.environ, "FICHAS_DATA_DIR": str(data_dir)}
    env.pop("FICHAS_DATABASE_URL", None)
    env.pop("FICHAS_REDIS_URL", None)
    if database_url is not None:
        env["FICHAS_DATABASE_URL"] = database_url
    if redis is not None:
        env["FICHAS_REDIS_URL"] = redis.url
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        for argv in (["migrate"], ["demo-data"]):
            subprocess.run(  # noqa: S603 - fichas, arguments we chose
                [*fichas, *argv], env=env, cwd=data_dir, stdout=log, stderr=log, check=True
            )
        listen = f"127.0.0.1:{free_port()}"
        up = [*fichas, "up", "--instances", str(instances), "--listen", listen, *up_options]
        process = subprocess.Popen(up, env=env, cwd=data_dir, stdout=log, stderr=log)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while b"fichas is up" not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise TargetError(f"fichas up did not start; see {log_path}")
            time.sleep(0.2)
        admin_key = (data_dir / "admin.key").read_text().strip()
        yield Target(f"http://{listen}", admin_key, data_dir / "cluster" / "status.json", redis)
    finally:
        stop_process(process, timeout=30)


def _request(target: Target, method: str, path: str, body: object = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the URL the user gave us
        f"{target.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {target.admin_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            content = answer.read()
    except OSError as exc:
        raise TargetError(f"{method} {target.url}{path} failed: {exc}") from exc
    return json.loads(content) if content else None


# Each shop-floor PC has its own key, and the API limits requests per key; up to this many
# keys are made, the virtual PCs sharing them round-robin beyond that (creating keys is an
# admin request, itself rate-limited).
MAX_KEYS = 100


@contextmanager
def temporary_keys(target: Target, name: str, count: int) -> Iterator[list[str]]:
    """``min(count, MAX_KEYS)`` read+write keys for the run, made with the admin key and
    revoked afterwards."""
    created: list[dict[str, Any]] = []
    try:
        for n in range(1, min(count, MAX_KEYS) + 1):
            body = {"nome": f"{name}-{n}", "escopos": ["read", "write"]}
            created.append(_request(target, "POST", "/chaves", body))
        yield [str(key["token"]) for key in created]
    finally:
        for key in created:
            _request(target, "DELETE", f"/chaves/{key['id']}")
