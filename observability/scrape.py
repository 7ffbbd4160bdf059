"""Read a running cluster's metrics the way Prometheus would, without Prometheus: the targets from
the supervisor's file-SD file (``data/cluster/targets.json``), each one's ``/metrics`` asked at
once (a thread per target), parsed into plain numbers. What ``fichas top`` refreshes from.

Only the instances (job ``fichas-api``) and the supervisor (``fichas-supervisor``: processes,
backups, replication) are read; Caddy's, Litestream's and the monitoring's own metrics add
nothing ``fichas top`` shows.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

INSTANCE_JOB = "fichas-api"
SUPERVISOR_JOB = "fichas-supervisor"

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs: hashable, one per series
# sample name (``fichas_http_requests_total``, ``…_bucket``) → labels → value
Samples = dict[str, dict[Labels, float]]


@dataclass(frozen=True)
class Target:
    job: str
    instance: str
    address: str  # host:port; the metrics are at http://<address>/metrics


@dataclass(frozen=True)
class Scrape:
    """One round: each instance's samples (None: it did not answer), the supervisor's."""

    at: float  # time.monotonic(), for rates
    wall: float  # time.time(), for the ages of timestamps (the last backup)
    instances: dict[str, Samples | None]
    supervisor: Samples | None


def read_targets(path: Path) -> list[Target]:
    """The targets of the jobs read here, from Prometheus file-SD JSON; none if it is absent."""
    try:
        groups = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [
        Target(group["labels"]["job"], group["labels"]["instance"], address)
        for group in groups
        if group["labels"]["job"] in (INSTANCE_JOB, SUPERVISOR_JOB)
        for address in group["targets"]
    ]


def parse(text: str) -> Samples:
    """Every sample of a text exposition (Prometheus's format or OpenMetrics'), by name."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def fetch(address: str, timeout: float) -> Samples | None:
    """The samples of http://<address>/metrics; None when it does not answer or makes no sense."""
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=timeout) as answer:
            return parse(answer.read().decode())
    except (OSError, ValueError):
        return None


def scrape(targets: list[Target], timeout: float = 2.0) -> Scrape:
    """All ``targets`` at once: the slowest answer, not their sum, sets how long it takes."""
    at, wall = time.monotonic(), time.time()
    if not targets:
        return Scrape(at, wall, {}, None)
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        answers = [pool.submit(fetch, target.address, timeout) for target in targets]
        instances: dict[str, Samples | None] = {}
        supervisor = None
        for target, answer in zip(targets, answers, strict=True):
            if target.job == INSTANCE_JOB:
                instances[target.instance] = answer.result()
            else:
                supervisor = answer.result()
    return Scrape(at, wall, instances, supervisor)
