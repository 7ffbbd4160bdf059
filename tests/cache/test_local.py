"""Without Redis, as ``fichas up`` runs on its defaults: each instance caches what it served,
and the generation rows in the shared SQLite file tell every instance of another's write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.cache.responses import generation_key
from api.db.engine import build_engine, writing
from fichas.settings import Settings
from tests.support import make_token, metric, migrated_engine, new_cliente, new_tipo


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two instances on one SQLite file, no Redis."""
    settings = Settings(data_dir=tmp_path, auth_cache_seconds=300)
    engine = migrated_engine(settings)
    token = make_token(engine, "pc-local-cache", ["read", "write"])
    engine.dispose()
    with ExitStack() as stack:
        clients = []
        for name in ("api-1", "api-2"):
            app = create_app(settings.model_copy(update={"instance": name}))
            client = stack.enter_context(TestClient(app))
            client.headers["Authorization"] = f"Bearer {token}"
            clients.append(client)
        yield clients[0], clients[1]


def _count(api: TestClient, family: str, result: str) -> float:
    series = f'fichas_cache_requests_total{{cache="{family}",result="{result}"}}'
    return metric(api.get("/metrics").text, series)


def test_a_write_on_one_instance_is_seen_at_once_by_the_other(
    instances: tuple[TestClient, TestClient],
) -> None:
    one, two = instances
    cliente = new_cliente(one, nome="Antes")
    tipo = new_tipo(one, nome="Bordado")
    first, again = (two.get(f"/clientes/{cliente['id']}") for _ in range(2))
    assert first.json()["nome"] == "Antes"
    assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])
    assert (_count(two, "clientes", "miss"), _count(two, "clientes", "hit")) == (1, 1)
    assert two.get("/producoes/tipos?limit=100").status_code == 200  # cached there too

    changed = one.patch(f"/clientes/{cliente['id']}", json={"nome": "Depois"})
    assert changed.status_code == 200
    assert two.get(f"/clientes/{cliente['id']}").json()["nome"] == "Depois"
    assert one.patch(f"/producoes/tipos/{tipo['id']}", json={"nome": "Costura"}).status_code == 200
    names = {t["id"]: t["nome"] for t in two.get("/producoes/tipos?limit=100").json()["items"]}
    assert names[tipo["id"]] == "Costura"
    assert _count(two, "clientes", "hit") == 1  # the changed answers were looked up again


def test_without_its_generation_rows_the_cache_still_tells_writes_apart(
    instances: tuple[TestClient, TestClient], tmp_path: Path
) -> None:
    """Before any write the generation is "0"; the first write makes the row."""
    one, two = instances
    engine = build_engine(Settings(data_dir=tmp_path))
    with writing(engine) as conn:
        conn.exec_driver_sql("DELETE FROM contadores WHERE nome LIKE 'fichas:generation:%'")
    assert two.get("/clientes?limit=5").json()["items"] == []
    assert two.get("/clientes?limit=5").json()["items"] == []
    new_cliente(one, nome="Primeira")
    assert [c["nome"] for c in two.get("/clientes?limit=5").json()["items"]] == ["Primeira"]
    with writing(engine) as conn:
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM contadores WHERE nome = ?", (generation_key("clientes"),)
        ).scalar()
    engine.dispose()
    assert found == 1
