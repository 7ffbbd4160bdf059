"""``fichas alert test``: a synthetic alert through the cluster's own Alertmanager (``fichas up
--observability``) — a page reaches the pager's webhook and is reported delivered; a warning,
e-mailed through an SMTP server that is not there, is reported undelivered, plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fichas.processes import free_port
from loadtest.target import own_cluster
from tests.alerting.pager import Notification, running_pager


def alert_test(data_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fichas.cli", "alert", "test", *options],
        env={**os.environ, "FICHAS_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_page_is_delivered_and_a_lost_email_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_pager() as pager:
        monkeypatch.setenv("FICHAS_ALERT_PAGER_URL", pager.url)
        monkeypatch.setenv("FICHAS_ALERT_EMAIL_TO", "oncall@example.com")
        monkeypatch.setenv("FICHAS_ALERT_EMAIL_FROM", "alertmanager@example.com")
        monkeypatch.setenv("FICHAS_ALERT_SMTP_SMARTHOST", f"127.0.0.1:{free_port()}")  # no SMTP
        alertmanager = f"127.0.0.1:{free_port()}"
        options = ["--observability", "--alertmanager-listen", alertmanager]
        with own_cluster(tmp_path, 1, tmp_path / "cluster.log", up_options=options):
            paged = alert_test(tmp_path)
            assert paged.returncode == 0, paged.stdout + paged.stderr
            assert f"to Alertmanager at http://{alertmanager}: routed to receiver pager" in (
                paged.stdout
            )
            assert "delivered to pager (webhook) after" in paged.stdout

            def test_alert(notification: Notification) -> bool:
                names = {a["labels"]["alertname"] for a in notification["alerts"]}
                return notification["status"] == "firing" and names == {"FichasTestAlert"}

            page = pager.wait_for(test_alert, timeout=5)
            assert page["receiver"] == "pager"

            mailed = alert_test(tmp_path, "--severity", "warning")
            assert mailed.returncode == 1, mailed.stdout + mailed.stderr
            assert "routed to receiver email (email)" in mailed.stdout
            assert "Alertmanager could NOT deliver it to email (email)" in mailed.stderr
            assert "Traceback" not in mailed.stderr


def test_without_alertmanager_it_says_how_to_get_one(tmp_path: Path) -> None:
    done = alert_test(tmp_path)
    assert done.returncode == 2
    assert "fichas up --observability" in done.stderr
