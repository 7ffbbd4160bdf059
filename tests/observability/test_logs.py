"""A real instance logs one JSON object per line; each request is one access line carrying what
joins it to the rest (request id, route, status, duration, key, instance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fichas.settings import Settings
from tests.support import make_token, migrated_engine, running_server


def _json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.mark.slow
def test_every_request_is_one_json_access_line(tmp_path: Path) -> None:
    engine = migrated_engine(Settings(data_dir=tmp_path))
    token = make_token(engine, "pc-logs", ["read", "write"])
    engine.dispose()
    env = {"FICHAS_DATA_DIR": str(tmp_path), "FICHAS_LOG_LEVEL": "info",
           "FICHAS_INSTANCE": "api-7"}  # fmt: skip
    log = tmp_path / "server.log"
    with running_server(env, log) as url:
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-42"}
        assert httpx2.get(f"{url}/clientes/12345", headers=headers).status_code == 404
    access = [x for x in _json_lines(log) if x["logger"] == "fichas.access"]
    mine = [x for x in access if x["request_id"] == "trace-me-42"]
    assert len(mine) == 1, access
    line = mine[0]
    assert line["level"] == "INFO"
    assert line["instance"] == "api-7"
    assert (line["method"], line["route"], line["path"]) == (
        "GET",
        "/clientes/{id:id}",
        "/clientes/12345",
    )
    assert line["status"] == 404
    assert line["key"] == "pc-logs"
    assert line["duration_ms"] > 0
    assert line["time"]
    # Everything an instance logs is JSON, not only the access log (the start-up banner aside).
    others = [x for x in log.read_text().splitlines() if x and not x.startswith("{")]
    assert all("fichas serving on" in x for x in others), others
