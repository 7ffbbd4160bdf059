"""A real instance logs one JSON object per line; each request is one access line carrying what
joins it to the rest (request id, route, status, duration, key, instance)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fichas.settings import Settings
from observability.logs import ACCESS, access, configure_logging
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


FIELDS: dict[str, object] = {
    "request_id": "r-1", "method": "GET", "route": "/clientes", "path": "/clientes",
    "status": 200, "duration_ms": 1.25, "key": None,
}  # fmt: skip


def test_an_access_line_written_directly_is_the_line_a_record_gives(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The access log skips logging's records (observability/logs.py): not what it writes."""
    configure_logging("info", "api-3")
    access(logging.INFO, "GET /clientes 200", FIELDS)
    ACCESS.log(logging.INFO, "GET /clientes 200", extra=FIELDS)
    direct, recorded = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", direct.pop("time"))
    recorded.pop("time")
    assert direct == recorded
    assert direct["instance"] == "api-3"
    assert direct["level"] == "INFO"


def test_with_another_handler_the_access_line_is_a_record(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("info", "api-3")
    logging.root.addHandler(caplog.handler)  # after: configure_logging replaces the handlers
    access(logging.INFO, "GET /clientes 200", FIELDS)
    [record] = [r for r in caplog.records if r.name == ACCESS.name]
    assert record.getMessage() == "GET /clientes 200"
    assert json.loads(capsys.readouterr().out)["request_id"] == "r-1"  # and still on stdout
