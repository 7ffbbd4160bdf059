"""Keys against a hostile or careless client (issue 17, points 5 to 7): a revoked key stops at
once where it was revoked and within a second everywhere when Redis is there; admin keys are
always looked up; guessing tokens meets 429 without costing a lookup per guess, and without
telling anything about the token; two Authorization headers are refused; a 429 names its scope.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from api.app import create_app
from api.data import chaves
from api.db.engine import writing
from fichas.settings import Settings
from loadtest.target import redis_server
from tests.support import assert_problem, make_token, metric, migrated_engine, running_server

SHARED_REDIS = "redis://127.0.0.1:6379/0"  # the machine's own: this module never flushes it
PC, GUESSER, NEIGHBOUR = "198.51.100.7", "203.0.113.9", "192.0.2.44"


def _app(settings: Settings, **overrides: object) -> TestClient:
    """A client of one app, seen as the trusted proxy (127.0.0.1): ``X-Forwarded-For`` then
    says which address each request comes from."""
    app = create_app(Settings(**{**settings.model_dump(), **overrides}))
    return TestClient(app, client=("127.0.0.1", 50000), raise_server_exceptions=False)


def _as(token: str, address: str = PC) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}


def _revoke_in_database(engine: Engine, name: str) -> None:
    """As another instance, or the server's shell, would: behind this instance's back."""
    with writing(engine) as conn:
        row = chaves.by_name(conn, name)
        assert row is not None
        chaves.revoke(conn, row["id"])


def _key_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        row = chaves.by_name(conn, name)
        assert row is not None
        return int(row["id"])


def test_a_key_revoked_through_an_instance_stops_there_at_once(
    settings: Settings, engine: Engine
) -> None:
    pc = make_token(engine, "pc-revogado", ["read", "write"])
    admin = make_token(engine, "admin-1", ["read", "write", "admin"])
    with _app(settings, auth_cache_seconds=300) as client:
        assert client.get("/clientes", headers=_as(pc)).status_code == 200  # verified, cached
        revoked = client.delete(f"/chaves/{_key_id(engine, 'pc-revogado')}", headers=_as(admin))
        assert revoked.status_code == 200
        assert_problem(client.get("/clientes", headers=_as(pc)), 401, "unauthorized")


def test_admin_keys_are_always_looked_up(settings: Settings, engine: Engine) -> None:
    admin = make_token(engine, "admin-1", ["read", "write", "admin"])
    pc = make_token(engine, "pc-1", ["read"])
    with _app(settings, auth_cache_seconds=300) as client:
        assert client.get("/chaves", headers=_as(admin)).status_code == 200
        assert client.get("/clientes", headers=_as(pc)).status_code == 200
        _revoke_in_database(engine, "admin-1")
        _revoke_in_database(engine, "pc-1")
        assert_problem(client.get("/chaves", headers=_as(admin)), 401, "unauthorized")
        # A PC key, on the other hand, is trusted for auth_cache_seconds when nobody tells this
        # instance (no Redis): the documented price of sparing a lookup per request.
        assert client.get("/clientes", headers=_as(pc)).status_code == 200


def test_two_authorization_headers_are_refused_not_guessed(
    settings: Settings, engine: Engine
) -> None:
    token = make_token(engine, "pc-1", ["read"])
    with _app(settings) as client:
        for second in (f"Bearer {token}", "Bearer fichas_nope_nope"):
            headers = [("Authorization", f"Bearer {token}"), ("Authorization", second)]
            body = assert_problem(client.get("/clientes", headers=headers), 400, "bad-request")
            assert "Authorization" in body["detail"]


def _database_reads(client: TestClient) -> float:
    text = client.get("/metrics").text
    return metric(text, 'fichas_database_duration_seconds_count{access="read"}')


def test_guessing_tokens_meets_429_and_honest_pcs_are_not_slowed(
    settings: Settings, engine: Engine
) -> None:
    verified = make_token(engine, "pc-verified", ["read"])
    unverified = make_token(engine, "pc-late", ["read"])
    elsewhere = make_token(engine, "pc-elsewhere", ["read"])
    # No auth cache at all: a key this instance verified before still gets in from an address
    # over its failure budget (it is not a guess), though it is looked up on every request.
    with _app(settings, auth_cache_seconds=0, rate_limit_auth_failures="5/minute") as client:
        assert client.get("/clientes", headers=_as(verified, GUESSER)).status_code == 200
        prefix = unverified.split("_")[1]
        guesses = [f"fichas_{prefix}_guess{n}" for n in range(5)]
        for guess in guesses:
            assert_problem(
                client.get("/clientes", headers=_as(guess, GUESSER)), 401, "unauthorized"
            )

        reads = _database_reads(client)
        for token in (f"fichas_{prefix}_guess5", "garbage", unverified):
            # Over the budget nothing new is looked up, and a real key that this instance has
            # not verified yet gets the same 429 as a wrong one: the answer tells nothing.
            refused = client.get("/clientes", headers=_as(token, GUESSER))
            body = assert_problem(refused, 429, "rate-limited")
            assert f"5 failed authentications per 60 s per address {GUESSER}" in body["detail"]
            assert refused.headers["ratelimit-policy"] == '"auth-failures";q=5;w=60'
            assert refused.headers["retry-after"].isdigit()
        assert _database_reads(client) == reads

        assert client.get("/clientes", headers=_as(verified, GUESSER)).status_code == 200
        assert client.get("/clientes", headers=_as(elsewhere, NEIGHBOUR)).status_code == 200
        assert_problem(
            client.get("/clientes", headers=_as("garbage", NEIGHBOUR)), 401, "unauthorized"
        )


def test_a_429_names_the_key_or_the_address_it_counts_for(
    settings: Settings, engine: Engine
) -> None:
    token = make_token(engine, "pc-apressado", ["read"])
    with _app(settings, rate_limit_read="2/minute", rate_limit_root="1/minute") as client:
        for _ in range(2):
            assert client.get("/clientes", headers=_as(token)).status_code == 200
        body = assert_problem(client.get("/clientes", headers=_as(token)), 429, "rate-limited")
        assert "per API key 'pc-apressado'" in body["detail"], body["detail"]
        # Without Redis each instance counts alone, and says so.
        assert "counted by this instance alone" in body["detail"], body["detail"]
        assert client.get("/", headers={"X-Forwarded-For": PC}).status_code == 200
        body = assert_problem(client.get("/", headers={"X-Forwarded-For": PC}), 429, "rate-limited")
        assert f"per address {PC}" in body["detail"], body["detail"]


def _refused_within(client: httpx2.Client, token: str, bound: float, since: float) -> None:
    """Ask until the key is refused; fail if it is still accepted at ``bound`` seconds after
    ``since`` (a request sent later than that must be refused)."""
    while True:
        sent = time.monotonic()
        response = client.get("/clientes", headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 401:
            assert_problem(response, 401, "unauthorized")
            return
        assert response.status_code == 200, response.text
        assert sent - since < bound, f"still accepted {sent - since:.2f} s after revocation"
        time.sleep(0.02)


Instances = Callable[[dict[str, str]], tuple[httpx2.Client, httpx2.Client, Engine]]


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[Instances]:
    """Starts two real instances sharing one SQLite database, with the environment given."""
    stack = ExitStack()

    def start(env: dict[str, str]) -> tuple[httpx2.Client, httpx2.Client, Engine]:
        engine = migrated_engine(Settings(data_dir=tmp_path))
        stack.callback(engine.dispose)
        env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_LOG_LEVEL": "warning", **env}
        urls = [stack.enter_context(running_server(env, tmp_path / f"{n}.log")) for n in "ab"]
        a, b = (stack.enter_context(httpx2.Client(base_url=u, timeout=30)) for u in urls)
        return a, b, engine

    with stack:
        yield start


def test_with_redis_a_revocation_reaches_every_instance_within_a_second(
    two_instances: Instances,
    tmp_path: Path,
) -> None:
    a, b, engine = two_instances(
        {
            "FICHAS_REDIS_URL": SHARED_REDIS,
            "FICHAS_AUTH_CACHE_SECONDS": "300",
            # 127.0.0.1's failures are counted in the shared Redis, by other tests too
            "FICHAS_RATE_LIMIT_AUTH_FAILURES": "1000/minute",
        }
    )
    tag = uuid.uuid4().hex[:6]
    admin = make_token(engine, f"admin-{tag}", ["read", "write", "admin"])
    by_api, by_shell = (make_token(engine, f"pc-{how}-{tag}", ["read"]) for how in ("api", "cli"))
    for token in (by_api, by_shell):
        for instance in (a, b, b):  # verified, then served from each instance's cache
            assert instance.get("/clientes", headers=_as(token)).status_code == 200

    revoked = a.delete(f"/chaves/{_key_id(engine, f'pc-api-{tag}')}", headers=_as(admin))
    since = time.monotonic()
    assert revoked.status_code == 200
    assert_problem(a.get("/clientes", headers=_as(by_api)), 401, "unauthorized")
    _refused_within(b, by_api, bound=1.0, since=since)

    env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_REDIS_URL": SHARED_REDIS}
    shell = subprocess.run(
        [sys.executable, "-m", "fichas.cli", "keys", "revoke", f"pc-cli-{tag}"],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    since = time.monotonic()
    assert shell.returncode == 0, shell.stdout + shell.stderr
    for instance in (a, b):
        _refused_within(instance, by_shell, bound=1.0, since=since)


def test_without_redis_a_revocation_reaches_the_others_within_the_auth_cache_time(
    two_instances: Instances,
) -> None:
    ttl = 2.0
    a, b, engine = two_instances({"FICHAS_AUTH_CACHE_SECONDS": str(ttl)})
    admin = make_token(engine, "admin-1", ["read", "write", "admin"])
    pc = make_token(engine, "pc-1", ["read"])
    for instance in (a, b):
        assert instance.get("/clientes", headers=_as(pc)).status_code == 200
    assert a.delete(f"/chaves/{_key_id(engine, 'pc-1')}", headers=_as(admin)).status_code == 200
    since = time.monotonic()
    assert_problem(a.get("/clientes", headers=_as(pc)), 401, "unauthorized")
    _refused_within(b, pc, bound=ttl, since=since)


def test_while_redis_is_down_cached_keys_are_not_trusted_and_requests_go_on(
    tmp_path: Path,
) -> None:
    engine = migrated_engine(Settings(data_dir=tmp_path))
    pc, other = (make_token(engine, name, ["read"]) for name in ("pc-1", "pc-2"))
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        redis = stack.enter_context(redis_server(tmp_path))
        env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_REDIS_URL": redis.url,
               "FICHAS_AUTH_CACHE_SECONDS": "300", "FICHAS_LOG_LEVEL": "warning"}  # fmt: skip
        url = stack.enter_context(running_server(env, tmp_path / "server.log"))
        client = stack.enter_context(httpx2.Client(base_url=url, timeout=30))
        for token in (pc, other, pc):
            assert client.get("/clientes", headers=_as(token)).status_code == 200
        redis.kill()
        # Revoked where no announcement can reach this instance: it must stop trusting what
        # it verified, since it can no longer hear of revocations.
        _revoke_in_database(engine, "pc-1")
        since = time.monotonic()
        _refused_within(client, pc, bound=1.0, since=since)
        assert client.get("/clientes", headers=_as(other)).status_code == 200  # looked up
