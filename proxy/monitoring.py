"""Prometheus and Alertmanager beside the cluster (``fichas up --observability``): Debian's
packages when installed, on loopback, configured from observability/ and alerting/, supervised
like the other processes (restarted if they die, stopped last).

Where ``--prometheus-listen`` and ``--alertmanager-listen`` say; without them, their usual ports
(9090, 9093) on loopback when free — the ones the bundled dashboards' data source and the
Alertmanager address assume — else any free port. ``fichas up`` prints where they are.
Alertmanager is started only when its receivers are configured (alerting/README.md): without
them it could page nobody, and Prometheus shows the alerts firing anyway.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from fichas.processes import free_port
from fichas.settings import Settings
from observability.alertmanager import AlertmanagerConfigError, write
from observability.prometheus import prometheus_config, write_prometheus_config
from proxy.supervisor import Child, targets_beside


class MonitoringUnavailable(Exception):
    """Prometheus is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Monitoring:
    children: list[Child]
    urls: dict[str, str]  # name → URL, for the operator
    notes: list[str]  # what was left out, and why


def monitoring(
    settings: Settings, prometheus_listen: str | None = None, alertmanager_listen: str | None = None
) -> Monitoring:
    """The processes to run beside the cluster: their configuration with the cluster's files,
    their data (the time series, Alertmanager's silences) under the data dir; each on the
    host:port given, else on loopback at its usual port or a free one."""
    data_dir = settings.data_dir
    directory = settings.cluster_dir
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise MonitoringUnavailable(
            "--observability needs Prometheus: install Debian's prometheus package "
            "(and prometheus-alertmanager for alerts)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    urls: dict[str, str] = {}
    notes: list[str] = []
    alertmanager_address = None
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if alertmanager is None:
        notes.append("alertmanager not started: install Debian's prometheus-alertmanager package")
    else:
        try:
            config = write(settings, directory / "alertmanager.yml")
        except AlertmanagerConfigError as exc:
            notes.append(f"alertmanager not started: {exc}")
        else:
            alertmanager_address = alertmanager_listen or f"127.0.0.1:{free_port(9093)}"
            argv = [
                alertmanager,
                f"--config.file={config}",
                f"--storage.path={data_dir / 'alertmanager'}",
                f"--web.listen-address={alertmanager_address}",
                "--cluster.listen-address=",  # alone: no gossip with other Alertmanagers
            ]
            children.append(
                Child(
                    name="alertmanager",
                    argv=argv,
                    env=dict(os.environ),
                    health_url=f"http://{alertmanager_address}/-/ready",
                    url=f"http://{alertmanager_address}",
                )
            )
            urls["alertmanager"] = f"http://{alertmanager_address}"
    address = prometheus_listen or f"127.0.0.1:{free_port(9090)}"
    config = write_prometheus_config(
        prometheus_config(targets_beside(settings.status_file), alertmanager_address),
        directory / "prometheus.yml",
    )
    children.append(
        Child(
            name="prometheus",
            argv=[
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir / 'prometheus'}",
                f"--web.listen-address={address}",
            ],
            env=dict(os.environ),
            health_url=f"http://{address}/-/ready",
            url=f"http://{address}",
        )
    )
    urls["prometheus"] = f"http://{address}"
    return Monitoring(children, urls, notes)
