"""The system under load: a cluster of our own on free ports, or one given by URL; and the
temporary API key the virtual PCs use, revoked when the run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.cluster import free_port


class TargetError(Exception):
    """The system under test could not be started or reached; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str
    status_path: Path | None = None  # our own cluster's status file (for chaos)

    def instance_pids(self) -> dict[str, int]:
        if self.status_path is None:
            raise TargetError("only a cluster the load test started itself can be broken")
        status = json.loads(self.status_path.read_text())
        return {i["name"]: i["pid"] for i in status["instances"]}


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *argv]


@contextmanager
def own_cluster(data_dir: Path, instances: int, log_path: Path) -> Iterator[Target]:
    """``fichas up`` on a fresh SQLite database of demo data (500 clientes, 3,000 pedidos), on
    free loopback ports; stopped by PID (SIGTERM, then SIGKILL) when the block ends."""
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir), "FICHAS_LOG_LEVEL": "warning"}
    env.pop("FICHAS_DATABASE_URL", None)
    with log_path.open("wb") as log:
        for argv in (["migrate"], ["demo-data"]):
            subprocess.run(_cli(*argv), env=env, stdout=log, stderr=log, check=True)  # noqa: S603
        listen = f"127.0.0.1:{free_port()}"
        up = _cli("up", "--instances", str(instances), "--listen", listen)
        process = subprocess.Popen(up, env=env, stdout=log, stderr=log)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while b"fichas is up" not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise TargetError(f"fichas up did not start; see {log_path}")
            time.sleep(0.2)
        admin_key = (data_dir / "admin.key").read_text().strip()
        yield Target(f"http://{listen}", admin_key, data_dir / "cluster" / "status.json")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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


@contextmanager
def temporary_key(target: Target, name: str) -> Iterator[str]:
    """A read+write key for the run, created with the admin key and revoked afterwards."""
    created = _request(target, "POST", "/chaves", {"nome": name, "escopos": ["read", "write"]})
    try:
        yield str(created["token"])
    finally:
        _request(target, "DELETE", f"/chaves/{created['id']}")
