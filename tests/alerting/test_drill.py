"""The end-to-end drill: a real cluster, Prometheus with the bundled rules, and Alertmanager
with the bundled configuration, paging a local webhook. Every API instance stops answering →
FichasAllInstancesDown pages with its runbook link (FichasApiInstanceDown, firing too, is
inhibited); they answer again → the page resolves.

Only times change for the test: the rules' `for:` and Alertmanager's grouping waits are cut
to a second, so the drill takes seconds instead of minutes.

How the instances go down: SIGSTOP. Killed, they would be restarted by the supervisor within
a second or two, before any alert could fire; killed again and again, the supervisor gives up
after five crashes in a minute and stops the whole cluster, Caddy included (a different fault,
and no coming back). A stopped process is an instance hung for real: its port still accepts
connections but nothing answers, so Prometheus's scrapes (and Caddy's health checks) time
out, which is the fault the alert is about; SIGCONT brings the same processes back."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import yaml

from loadtest.target import own_cluster
from observability.alertmanager import write
from tests.alerting.pager import Notification, alert_settings, running_pager
from tests.alerting.rules import RULE_FILES, load
from tests.prometheus import (
    bundled_config,
    query,
    running_alertmanager,
    running_prometheus,
)

ALERT = "FichasAllInstancesDown"
QUICKLY = "1s"


def rules_firing_quickly(directory: Path) -> list[str]:
    """The bundled rule files, copied into ``directory`` with every `for:` cut to a second."""
    directory.mkdir()
    for path in RULE_FILES:
        rules = load(path)
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = QUICKLY
        (directory / path.name).write_text(yaml.safe_dump(rules))
    return [str(directory / "*.yml")]


def alertmanager_config(path: Path, pager_url: str) -> Path:
    """The bundled configuration, rendered with the pager at ``pager_url`` (e-mail to a port
    nobody listens on), its grouping waits cut to a second."""
    config: dict[str, Any] = yaml.safe_load(write(alert_settings(pager_url), path).read_text())
    for route in [config["route"], *config["route"]["routes"]]:
        route["group_wait"] = route["group_interval"] = QUICKLY
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def stopped(pids: list[int]) -> Iterator[Callable[[], None]]:
    """SIGSTOP ``pids``; yields what sends them SIGCONT, which happens at the end regardless,
    so the cluster can always be stopped."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)

    def resume() -> None:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    try:
        yield resume
    finally:
        resume()


def about(status: str) -> Callable[[Notification], bool]:
    return lambda notification: (
        notification["status"] == status
        and any(alert["labels"]["alertname"] == ALERT for alert in notification["alerts"])
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.5)


def test_all_instances_down_pages_with_its_runbook_then_resolves(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_pager() as pager, own_cluster(data_dir, 2, tmp_path / "cluster.log"):
        am_config = alertmanager_config(tmp_path / "alertmanager.yml", pager.url)
        with running_alertmanager(am_config, tmp_path) as alertmanager:
            config = bundled_config(data_dir, alertmanager)
            config["rule_files"] = rules_firing_quickly(tmp_path / "rules")
            with running_prometheus(config, tmp_path) as prometheus:
                both_up = 'count(up{job="fichas-api"} == 1) == 2'
                wait_until(lambda: bool(query(prometheus, both_up)), 30, "both instances up")
                status = json.loads((data_dir / "cluster" / "status.json").read_text())
                with stopped([instance["pid"] for instance in status["instances"]]) as resume:
                    page = pager.wait_for(about("firing"), timeout=30)
                    wait_until(lambda: _inhibited(alertmanager), 15, "instance-down inhibited")
                    resume()
                    resolved = pager.wait_for(about("resolved"), timeout=30)

    assert page["receiver"] == "pager"
    [alert] = [a for a in page["alerts"] if a["labels"]["alertname"] == ALERT]
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["runbook_url"].endswith(f"/alerting/runbooks/{ALERT}.md")
    assert alert["annotations"]["summary"] == "No API instance is up"
    assert resolved["receiver"] == "pager"
    # Nothing but the page: the per-instance alerts are warnings, and inhibited besides.
    assert {a["labels"]["alertname"] for n in pager.everything() for a in n["alerts"]} == {ALERT}


def _inhibited(alertmanager: str) -> bool:
    """Both instances' FichasApiInstanceDown reached Alertmanager and are held back."""
    alerts = httpx2.get(
        f"http://{alertmanager}/api/v2/alerts",
        params={"filter": 'alertname="FichasApiInstanceDown"'},
        timeout=5,
    ).json()
    return len(alerts) == 2 and all(alert["status"]["inhibitedBy"] for alert in alerts)
