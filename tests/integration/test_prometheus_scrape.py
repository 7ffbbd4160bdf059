"""A real Prometheus (Debian's), configured by observability/prometheus.yml, scrapes a real
cluster through the targets file `fichas up` writes: every process is up, request metrics
arrive, and the recording rules produce the SLIs."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from loadtest.target import own_cluster
from proxy.cluster import free_port, stop_process

OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"


def _configured(data_dir: Path) -> Path:
    """The bundled config, with its two relative paths made absolute for this cluster."""
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(OBSERVABILITY / "rules" / "*.yml")]
    sd = config["scrape_configs"][0]["file_sd_configs"][0]
    sd["files"] = [str(data_dir / "cluster" / "targets.json")]
    sd["refresh_interval"] = "1s"
    path = data_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx2.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_scrapes_every_process_and_records_the_slis(tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: install Debian's prometheus package (.ci/run does)")
    with own_cluster(tmp_path, 2, tmp_path / "cluster.log") as cluster:
        port = free_port()
        argv = [binary, f"--config.file={_configured(tmp_path)}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
        with (tmp_path / "prometheus.log").open("wb") as log:
            prometheus = subprocess.Popen(argv, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(20):  # some traffic to record
                assert httpx2.get(f"{cluster.url}/health").status_code == 200
            wanted = {
                "up": 'count(up{job=~"fichas-api|caddy|fichas-supervisor"} == 1)',
                "requests": 'sum(fichas_http_requests_total{route="/health"})',
                "sli": "fichas:http_requests:rate5m",
                "processes": "sum(fichas_process_up)",
            }
            seen: dict[str, list[dict[str, Any]]] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    seen = {name: _query(url, expr) for name, expr in wanted.items()}
                except httpx2.TransportError:
                    seen = {}
                if seen and all(seen.values()) and float(seen["up"][0]["value"][1]) == 4:
                    break
                time.sleep(1)
            output = (tmp_path / "prometheus.log").read_text()
            assert seen, output
            assert all(seen.values()), (seen, output)
            assert float(seen["up"][0]["value"][1]) == 4  # 2 instances, Caddy, the supervisor
            assert float(seen["processes"][0]["value"][1]) == 3  # what the supervisor runs
            assert float(seen["requests"][0]["value"][1]) >= 20
        finally:
            stop_process(prometheus, timeout=10)
