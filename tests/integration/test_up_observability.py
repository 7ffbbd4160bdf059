"""``fichas up --observability``: Prometheus and Alertmanager (Debian's) run beside the cluster,
on loopback, configured from the repository: Prometheus scrapes every process and sends its
alerts to that Alertmanager; both are supervised, listed by ``fichas status``, and stopped with
the cluster."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx2
import pytest

from loadtest.target import own_cluster
from tests.prometheus import query
from tests.support import process_alive

RECEIVERS = {
    "FICHAS_ALERT_PAGER_URL": "http://127.0.0.1:9/pager",
    "FICHAS_ALERT_EMAIL_TO": "oncall@example.com",
    "FICHAS_ALERT_EMAIL_FROM": "alertmanager@example.com",
    "FICHAS_ALERT_SMTP_SMARTHOST": "127.0.0.1:25",
}


def test_prometheus_and_alertmanager_run_beside_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in RECEIVERS.items():
        monkeypatch.setenv(name, value)
    log = tmp_path / "cluster.log"
    with own_cluster(tmp_path, 1, log, up_options=["--observability"]):
        urls = dict(
            re.findall(r"^  (prometheus|alertmanager) +(http://\S+)$", log.read_text(), re.M)
        )
        status = json.loads((tmp_path / "cluster" / "status.json").read_text())
        companions = {o["name"]: o["pid"] for o in status["companions"]}
        assert set(urls) == {"prometheus", "alertmanager"}
        assert set(companions) == {"litestream", "prometheus", "alertmanager"}
        prometheus = urls["prometheus"]
        up: list[dict[str, object]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            up = query(
                prometheus,
                'up{job=~"fichas-api|caddy|litestream|fichas-supervisor|alertmanager"} == 1',
            )
            if len(up) == 5:
                break
            time.sleep(1)
        assert len(up) == 5, up
        senders = httpx2.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()
        active = [a["url"] for a in senders["data"]["activeAlertmanagers"]]
        assert active == [f"{urls['alertmanager']}/api/v2/alerts"]
        rules = httpx2.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert any(r["name"] == "FichasAllInstancesDown" for g in rules for r in g["rules"])
    assert not any(process_alive(pid) for pid in companions.values())
