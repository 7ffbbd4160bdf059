"""A real Prometheus (Debian's), configured by observability/prometheus.yml, scrapes a real
cluster through the targets file `fichas up` writes: every process is up, request metrics
arrive, and the recording rules produce the SLIs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2

from loadtest.target import own_cluster
from tests.prometheus import bundled_config, query, running_prometheus


def test_prometheus_scrapes_every_process_and_records_the_slis(tmp_path: Path) -> None:
    with (
        own_cluster(tmp_path, 2, tmp_path / "cluster.log") as cluster,
        running_prometheus(bundled_config(tmp_path), tmp_path) as url,
    ):
        for _ in range(20):  # some traffic to record
            assert httpx2.get(f"{cluster.url}/health").status_code == 200
        wanted = {
            "up": 'count(up{job=~"fichas-api|caddy|litestream|fichas-supervisor"} == 1)',
            "requests": 'sum(fichas_http_requests_total{route="/health"})',
            "sli": "fichas:http_requests:rate5m",
            "processes": "sum(fichas_process_up)",
        }
        seen: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = {name: query(url, expr) for name, expr in wanted.items()}
            if all(seen.values()) and float(seen["up"][0]["value"][1]) == 5:
                break
            time.sleep(1)
        assert all(seen.values()), seen
        # 2 instances, Caddy, Litestream, the supervisor
        assert float(seen["up"][0]["value"][1]) == 5
        assert float(seen["processes"][0]["value"][1]) == 4  # what the supervisor runs
        assert float(seen["requests"][0]["value"][1]) >= 20
