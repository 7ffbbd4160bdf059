"""Prometheus's configuration for where it runs: the bundled ``prometheus.yml`` with its paths
made absolute (the rules in ``alerting/rules``, wherever this installation keeps them, see
``observability.bundled``; the targets file of one cluster) and its
Alertmanager at the address it really has — or none, and then no alerts are sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from observability.bundled import bundled

CONFIG = Path(__file__).with_name("prometheus.yml")


def prometheus_config(targets: Path, alertmanager: str | None) -> dict[str, Any]:
    """The configuration for a cluster whose file-SD ``targets`` file is given, sending alerts to
    ``alertmanager`` (host:port) and scraping it, or doing neither when it is None."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    # Written relative to this folder in the repository (../alerting/rules/*.yml), for the
    # compose stack, which mounts both.
    config["rule_files"] = [
        str(bundled(rules.removeprefix("../"))) for rules in config["rule_files"]
    ]
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(targets)]
    if alertmanager is None:
        del config["alerting"]
        config["scrape_configs"] = [
            job for job in config["scrape_configs"] if job["job_name"] != "alertmanager"
        ]
        return config
    for sender in config["alerting"]["alertmanagers"]:
        sender["static_configs"] = [{"targets": [alertmanager]}]
    for job in config["scrape_configs"]:
        if job["job_name"] == "alertmanager":
            job["static_configs"] = [{"targets": [alertmanager]}]
    return config


def write_prometheus_config(config: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
