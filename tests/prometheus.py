"""A real Prometheus (Debian's package) for the tests: the bundled observability/prometheus.yml,
pointed at one cluster's targets file, evaluating every second; and a real Alertmanager
(``prometheus-alertmanager``) for it to send alerts to."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fichas.processes import free_port, stop_process
from fichas.settings import Settings
from observability.prometheus import prometheus_config, write_prometheus_config
from proxy.supervisor import targets_beside


def bundled_config(data_dir: Path, alertmanager: str | None = None) -> dict[str, Any]:
    """The bundled configuration for the cluster in ``data_dir`` (sending alerts to
    ``alertmanager`` if given), scraping and evaluating every second."""
    targets = targets_beside(Settings(data_dir=data_dir).status_file)
    config = prometheus_config(targets, alertmanager)
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["refresh_interval"] = "1s"
    return config


@contextmanager
def running_prometheus(config: dict[str, Any], directory: Path) -> Iterator[str]:
    """Prometheus with ``config`` on a free loopback port, its files in ``directory``; yields its
    URL once it answers, stops it (by PID) when the block ends."""
    config_path = write_prometheus_config(config, directory / "prometheus.yml")
    address = f"127.0.0.1:{free_port()}"
    options = [f"--config.file={config_path}", f"--storage.tsdb.path={directory / 'tsdb'}"]
    with _running("prometheus", "prometheus", address, directory, options):
        yield f"http://{address}"


@contextmanager
def running_alertmanager(config_path: Path, directory: Path) -> Iterator[str]:
    """Alertmanager with the configuration at ``config_path`` on a free loopback port, alone
    (no gossip cluster), its state in ``directory``; yields its host:port once it answers,
    stops it (by PID) when the block ends."""
    address = f"127.0.0.1:{free_port()}"
    options = [
        f"--config.file={config_path}",
        f"--storage.path={directory / 'alertmanager'}",
        "--cluster.listen-address=",
    ]
    with _running("alertmanager", "prometheus-alertmanager", address, directory, options):
        yield address


@contextmanager
def _running(
    name: str, package: str, address: str, directory: Path, options: list[str]
) -> Iterator[None]:
    """Debian's ``package`` binary serving on ``address`` (its log in ``directory``) until the
    block ends; the block starts once it answers ``/-/ready``."""
    binary = shutil.which(package)
    if binary is None:
        pytest.fail(f"{package} is missing: install Debian's {package} package (.ci/run does)")
    log_path = directory / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([binary, *options, f"--web.listen-address={address}"],
                                   stdout=log, stderr=log)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _ready(f"http://{address}"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield
    finally:
        stop_process(process, timeout=10)


def _ready(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector (or scalar) ``expr`` evaluates to now; fails the test on a bad query."""
    answer = httpx2.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result
