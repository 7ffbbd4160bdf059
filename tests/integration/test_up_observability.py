"""``fichas up --observability``: Prometheus and Alertmanager (Debian's) run beside the cluster,
on loopback, configured from the repository: Prometheus scrapes every process and sends its
alerts to that Alertmanager; both are supervised, listed by ``fichas status``, and stopped with
the cluster. ``fichas alert test`` tries the alert path through them: a page reaches the pager's
webhook and is reported delivered; a warning, e-mailed through an SMTP server that is not there,
is reported undelivered, plainly. One cluster serves every test here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from fichas.processes import free_port
from loadtest.target import own_cluster
from tests.alerting.pager import Notification, Pager, running_pager
from tests.prometheus import query
from tests.support import process_alive

RECEIVERS = {
    "FICHAS_ALERT_PAGER_URL": "http://127.0.0.1:9/pager",
    "FICHAS_ALERT_EMAIL_TO": "oncall@example.com",
    "FICHAS_ALERT_EMAIL_FROM": "alertmanager@example.com",
    "FICHAS_ALERT_SMTP_SMARTHOST": "127.0.0.1:25",
}


@dataclass
class Watched:
    data_dir: Path
    urls: dict[str, str]  # prometheus, alertmanager
    companions: dict[str, int]  # name → pid
    pager: Pager


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    data_dir = tmp_path_factory.mktemp("watched")
    alertmanager = f"127.0.0.1:{free_port()}"
    options = ["--observability", "--alertmanager-listen", alertmanager]
    with running_pager() as pager, pytest.MonkeyPatch.context() as env:
        for name, value in RECEIVERS.items():
            env.setenv(name, value)
        env.setenv("FICHAS_ALERT_PAGER_URL", pager.url)
        env.setenv("FICHAS_ALERT_SMTP_SMARTHOST", f"127.0.0.1:{free_port()}")  # no SMTP there
        log = data_dir / "cluster.log"
        with own_cluster(data_dir, 1, log, up_options=options):
            urls = dict(
                re.findall(r"^  (prometheus|alertmanager) +(http://\S+)$", log.read_text(), re.M)
            )
            status = json.loads((data_dir / "cluster" / "status.json").read_text())
            companions = {o["name"]: o["pid"] for o in status["companions"]}
            yield Watched(data_dir, urls, companions, pager)
    assert not any(process_alive(pid) for pid in companions.values())  # stopped with it


def test_prometheus_scrapes_every_process_and_alerts_that_alertmanager(watched: Watched) -> None:
    assert set(watched.urls) == {"prometheus", "alertmanager"}
    assert set(watched.companions) == {"litestream", "prometheus", "alertmanager"}
    prometheus = watched.urls["prometheus"]
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
    assert active == [f"{watched.urls['alertmanager']}/api/v2/alerts"]
    rules = httpx2.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert any(r["name"] == "FichasAllInstancesDown" for g in rules for r in g["rules"])


def alert_test(data_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fichas.cli", "alert", "test", *options],
        env={**os.environ, "FICHAS_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_test_page_is_delivered_to_the_pager(watched: Watched) -> None:
    paged = alert_test(watched.data_dir)
    assert paged.returncode == 0, paged.stdout + paged.stderr
    sent_to = f"to Alertmanager at {watched.urls['alertmanager']}: routed to receiver pager"
    assert sent_to in paged.stdout
    assert "delivered to pager (webhook) after" in paged.stdout

    def test_alert(notification: Notification) -> bool:
        names = {a["labels"]["alertname"] for a in notification["alerts"]}
        return notification["status"] == "firing" and names == {"FichasTestAlert"}

    assert watched.pager.wait_for(test_alert, timeout=5)["receiver"] == "pager"


def test_an_email_that_cannot_be_sent_is_reported_plainly(watched: Watched) -> None:
    mailed = alert_test(watched.data_dir, "--severity", "warning")
    assert mailed.returncode == 1, mailed.stdout + mailed.stderr
    assert "routed to receiver email (email)" in mailed.stdout
    assert "Alertmanager could NOT deliver it to email (email)" in mailed.stderr
    assert "Traceback" not in mailed.stderr


def test_without_a_cluster_it_says_how_to_start_one(tmp_path: Path) -> None:
    done = alert_test(tmp_path)
    assert done.returncode == 2
    assert done.stderr.endswith("start one with `fichas up`\n")
    assert done.stderr.count("\n") == 1  # one line
