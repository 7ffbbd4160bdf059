"""``fichas up --role app`` and ``--role front`` on one machine's loopback: the two halves of a
cluster on several hosts, each under its own supervisor, meet through the upstreams file.
(The hosts apart, their links cut, are tests/hosts.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from fichas.processes import free_port, stop_process
from tests.support import wait_for

FICHAS = [sys.executable, "-m", "fichas.cli"]


@contextmanager
def fichas_up(data_dir: Path, *options: str) -> Iterator[str]:
    """``fichas up`` with ``options`` in its own data dir, until the block ends (by PID); yields
    what it printed once it was up."""
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir), "FICHAS_LOG_FORMAT": "json"}
    env.pop("FICHAS_DATABASE_URL", None)
    env.pop("FICHAS_REDIS_URL", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*FICHAS, "up", *options], env=env, stdout=log, stderr=log)
    try:
        wait_for(log_path, " is up ", process, 60)
        yield log_path.read_text()
    finally:
        stop_process(process, timeout=30)


def _status(data_dir: Path) -> Any:
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [*FICHAS, "status", "--json"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_an_app_host_and_a_front_host_make_one_cluster(tmp_path: Path) -> None:
    first = free_port()
    while free_port(first + 1) != first + 1:  # two ports in a row for the app host
        first = free_port()
    app_dir, front_dir = tmp_path / "app", tmp_path / "front"
    with fichas_up(app_dir, "--role", "app", "--listen", f"127.0.0.1:{first}", "--instances", "2",
                   "--backups") as app_said:  # fmt: skip
        addresses = [f"127.0.0.1:{first}", f"127.0.0.1:{first + 1}"]
        assert "fichas app host is up with 2 instances" in app_said
        assert f"list them in its upstreams file: {', '.join(addresses)}" in app_said
        assert "warning: FICHAS_TRUSTED_PROXIES" in app_said  # loopback only, by default

        upstreams = tmp_path / "upstreams.txt"
        upstreams.write_text("\n".join(addresses) + "\n")
        listen = f"127.0.0.1:{free_port()}"
        front = ["--role", "front", "--listen", listen, "--upstreams", str(upstreams)]
        with fichas_up(front_dir, *front) as front_said:
            assert f"fichas is up on http://{listen} in front of 2 instances" in front_said
            assert "kill -HUP" not in front_said  # no instance here to restart
            key = (app_dir / "admin.key").read_text().strip()
            headers = {"Authorization": f"Bearer {key}"}
            answers = [
                httpx2.get(f"http://{listen}/clientes", headers=headers).status_code
                for _ in range(10)
            ]
            assert answers == [200] * 10
            assert httpx2.get(f"http://{listen}/ready").json()["status"] == "ok"
            front_status = _status(front_dir)
            app_status = _status(app_dir)
    assert not (front_dir / "fichas.db").exists()  # a front host has no database
    assert [p["name"] for p in front_status["processes"]] == ["caddy"]
    assert front_status["backups"]["interval_seconds"] is None
    assert [p["name"] for p in app_status["processes"]] == ["api-1", "api-2", "litestream"]
    assert app_status["url"] == ", ".join(f"http://{a}" for a in addresses)
    assert app_status["backups"]["interval_seconds"] == 3600
