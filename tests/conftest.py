"""Fixtures: every API test runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from api.app import create_app
from fichas.settings import Settings
from tests.support import make_token, migrated_engine, postgres_reachable, throwaway_postgres, wipe

IN_CI = os.environ.get("CI", "").lower() == "true"
TESTS = Path(__file__).parent
# Modules outside tests/integration/ whose every test starts real processes of its own.
INTEGRATION_MODULES = {
    "alerting/test_drill.py", "alerting/test_metric_names.py", "backup/test_replication.py",
    "backup/test_snapshot.py", "cli/test_failures.py", "deploy/test_compose_environment.py",
    "docs/test_guides.py", "hosts/test_hosts.py", "loadtest/test_loadtest.py",
    "proxy/test_front.py", "security/test_files.py",
    "security/test_fuzz_proxy.py", "security/test_hostile.py", "security/test_keys.py",
    "security/test_proxy.py", "security/test_secrets.py",
}  # fmt: skip
# Modules whose every test takes seconds without a server of its own (property-based runs,
# promtool over every rule, a process per benchmark script).
SLOW_MODULES = {
    "alerting/test_rules.py", "contract/test_openapi_contract.py",
    "docs/test_benchmark_commands.py",
}  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/integration/ and the modules above are integration tests, and every integration
    test is slow; single slow tests elsewhere say so with ``@pytest.mark.slow``.
    ``uv run pytest -m "not slow"`` is the quick loop (README)."""
    for item in items:
        module = item.path.relative_to(TESTS).as_posix()
        if module.startswith("integration/") or module in INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)
        if module in SLOW_MODULES or item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.slow)


def require_postgres() -> None:
    """Skip where no PostgreSQL answers, with the reason; in CI that is a failure instead."""
    reason = postgres_reachable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_postgres()
    with throwaway_postgres(f"fichas_test_{uuid.uuid4().hex[:8]}") as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine]]:
    """A migrated database of each kind, shared by the session and wiped per test."""
    data_dir = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        settings = Settings(data_dir=data_dir, auth_cache_seconds=0)
    else:
        url = request.getfixturevalue("postgres_url")
        settings = Settings(data_dir=data_dir, database_url=url, auth_cache_seconds=0)
    engine = migrated_engine(settings)
    yield settings, engine
    engine.dispose()


@pytest.fixture
def settings(backend: tuple[Settings, Engine]) -> Settings:
    return backend[0]


@pytest.fixture
def engine(backend: tuple[Settings, Engine]) -> Engine:
    wipe(backend[1])
    return backend[1]


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """An anonymous client of a fresh app on a wiped database."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _as(client: TestClient, token: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def token(engine: Engine) -> str:
    return make_token(engine, "pc-teste", ["read", "write"])


@pytest.fixture
def api(client: TestClient, token: str) -> TestClient:
    """A client authenticated as a shop-floor PC (read + write)."""
    return _as(client, token)


@pytest.fixture
def admin(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """A second client of its own app, authenticated with every scope."""
    token = make_token(engine, "admin-teste", ["read", "write", "admin"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield _as(test_client, token)
