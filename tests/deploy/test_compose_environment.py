"""The API instances start and are ready with the environment compose gives them: the same
variables, their addresses moved to this machine — a database of the local PostgreSQL (the
postgres profile), a Redis of the test's own with the password compose sets, and an OTLP
receiver standing in for the collector."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx2
import redis

from loadtest.target import redis_server
from tests.conftest import require_postgres
from tests.deploy.compose import interpolate, services
from tests.otlp import otlp_receiver
from tests.support import running_server, throwaway_postgres


def localized(environment: dict[str, str], moves: dict[str, str]) -> dict[str, str]:
    """``environment`` with each compose address (``redis:6379``, ``/data``…) replaced by its
    stand-in here; fails if a compose service name is still addressed afterwards."""
    moved = {}
    for name, value in environment.items():
        for old, new in moves.items():
            value = value.replace(old, new)
        moved[name] = value
    for service in services():
        left = [f"{k}={v}" for k, v in moved.items() if f"//{service}:" in v or f"@{service}:" in v]
        assert not left, f"no stand-in for {service}: {left}"
    return moved


def test_three_instances_are_ready_on_postgresql_and_redis(tmp_path: Path) -> None:
    require_postgres()
    compose = services()
    password = secrets.token_hex(16)
    with ExitStack() as stack:
        database = stack.enter_context(throwaway_postgres(f"fichas_deploy_{uuid.uuid4().hex[:8]}"))
        own_redis = stack.enter_context(redis_server(tmp_path))
        # As compose starts Redis: --requirepass from REDIS_PASSWORD.
        client = redis.Redis(port=own_redis.port)
        client.config_set("requirepass", password)
        client.close()
        receiver = stack.enter_context(otlp_receiver())
        variables = {"REDIS_PASSWORD": password, "FICHAS_DATABASE_URL": database}
        moves = {
            "redis:6379": f"127.0.0.1:{own_redis.port}",
            "http://otel-collector:4318": receiver.url,
            "/data": str(tmp_path / "data"),
        }

        def environment(service: str) -> dict[str, str]:
            raw = compose[service]["environment"]
            return localized({k: interpolate(str(v), variables) for k, v in raw.items()}, moves)

        env = environment("api-1")
        assert env["FICHAS_DATABASE_URL"] == database
        # api-1's `serve --migrate`: the schema first, as compose has it before api-2 and api-3.
        assert compose["api-1"]["command"] == ["serve", "--migrate"]
        migrated = subprocess.run(
            [sys.executable, "-m", "fichas.cli", "migrate"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        # Batches leave at once, not after 5 s, and each answer names its instance (to check
        # compose's FICHAS_INSTANCE): the test's own knobs, not compose's.
        quick = {"OTEL_BSP_SCHEDULE_DELAY": "100", "FICHAS_DEBUG_HEADERS": "true"}
        urls = {
            name: stack.enter_context(
                running_server({**environment(name), **quick}, tmp_path / f"{name}.log")
            )
            for name in ("api-1", "api-2", "api-3")
        }
        trace_id = uuid.uuid4().hex
        for name, url in urls.items():
            ready = httpx2.get(f"{url}/ready", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ok", "redis": "ok"}  # database and Redis ok
            assert ready.headers["x-served-by"] == name
            # A sampled parent: the compose sampler (parent-based) follows it.
            parent = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
            assert httpx2.get(f"{url}/health", headers=parent, timeout=10).status_code == 200
        assert (tmp_path / "data" / "admin.key").exists()  # created once, in FICHAS_DATA_DIR

        # Each instance exported its request span to the collector's address compose gives it.
        deadline = time.monotonic() + 30
        while len(receiver.trace(trace_id)) < len(urls):
            assert time.monotonic() < deadline, "the spans did not reach the collector's stand-in"
            time.sleep(0.2)
        assert {span.service for span in receiver.trace(trace_id)} == {"fichas-api"}
