"""A cluster on several hosts, under a steady load of 25 PCs (their POSTs with Idempotency-Keys),
while a host is lost, links are cut and PostgreSQL restarts (tests/hosts/lab.py builds the hosts:
a data host with PostgreSQL and Redis, two app hosts with two instances each, the front host,
and the load host).

Every test breaks something 6 s into a 20 s load (longer where the recovery is watched under
load too) and puts it right again before the next, but the last. What each measured is printed
(``pytest -s``); docs/BENCHMARKS.md keeps a run's figures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backup import manifest
from tests.hosts.lab import (
    POSTGRES_PORT,
    REDIS_PORT,
    Cluster,
    Load,
    Postgres,
    cluster,
    lab,
    lab_unavailable,
    postgres,
)

BREAK_AT = 6  # seconds into the load


def _under_load(fichas: Cluster, results: Path, seconds: int = 20) -> Load:
    """25 PCs, each operator pausing 0.1 s after an answer, for ``seconds``; returns when it is
    time to break something (``BREAK_AT`` seconds in)."""
    options = ("--pcs", "25", "--think", "0.1s", "--duration", f"{seconds}s")
    load = fichas.load(results, *options)
    time.sleep(BREAK_AT)
    return load


APPS = ("app1", "app2")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Postgres]]:
    if (reason := lab_unavailable()) is not None:
        pytest.fail(f"the hosts cannot be simulated here: {reason}")
    directory = tmp_path_factory.mktemp("hosts")
    with lab(directory) as built, postgres(built) as database, cluster(built, database) as fichas:
        yield fichas, database


def _all_answered(summary: dict[str, Any]) -> None:
    assert summary["total"]["success_pct"] == 100.0, summary["wrong"]
    assert summary["wrong"] == []


def _wait_until(condition: Any, seconds: float) -> float:
    """Seconds until ``condition()`` held, polled every 0.2 s; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.2)
    return time.monotonic() - started


def _pedidos_since(database: Postgres, since: datetime) -> tuple[int, int]:
    """Pedidos made since ``since``, and how many of them no Idempotency-Key answer names (each
    POST /pedidos of the load carries a key: such a pedido was made twice for one key)."""
    sql = """
        SELECT count(*),
               count(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM idempotency_keys k WHERE k.location = '/pedidos/' || p.id))
        FROM pedidos p WHERE p.criado_em >= %s
    """
    with psycopg.connect(host=str(database.socket_dir), user="postgres", dbname="fichas") as conn:
        made, unnamed = conn.execute(sql, (since,)).fetchone()  # type: ignore[misc]
    return made, unnamed


def _instances(fichas: Cluster, *hosts: str) -> set[str]:
    return {address for host in hosts for address in fichas.upstreams([host])}


def _metric(fichas: Cluster, host: str, name: str, **labels: str) -> float:
    """A counter summed over ``host``'s instances (and over the labels not given)."""
    return sum(
        value
        for samples in fichas.instance_metrics(host).values()
        for series, value in samples.get(name, {}).items()
        if labels.items() <= dict(series).items()
    )


def _front_answers(fichas: Cluster, load: Load) -> list[dict[str, Any]]:
    """The front Caddy's access log while ``load`` ran: one entry per request it answered."""
    entries = [
        json.loads(line)
        for line in fichas.lab.log("front").splitlines()
        if line.startswith("{") and '"http.log.access' in line
    ]
    return [entry for entry in entries if entry["ts"] >= load.started.timestamp()]


def test_only_the_app_host_started_with_backups_takes_them(
    hosts: tuple[Cluster, Postgres],
) -> None:
    fichas, _ = hosts
    backups = fichas.data_dir("app1") / "backups"  # its first, at start: none existed
    _wait_until(lambda: manifest.newest_verified(backups) is not None, 60)
    assert list(backups.glob("*.pgdump"))  # pg_dump, across the LAN from the data host
    assert not (fichas.data_dir("app2") / "backups").exists()


def test_the_front_hosts_instances_change_under_load_and_no_request_is_lost(
    hosts: tuple[Cluster, Postgres], tmp_path: Path
) -> None:
    fichas, _ = hosts
    load = _under_load(fichas, tmp_path / "config")
    fichas.front_to(["app1"])
    left = _wait_until(lambda: fichas.serving(APPS) == _instances(fichas, "app1"), 5)
    time.sleep(3)
    fichas.front_to(APPS)
    back = _wait_until(lambda: fichas.serving(APPS) == _instances(fichas, *APPS), 5)
    summary = load.finish()
    print(f"app2 out of the front's list {left:.1f} s after the edit, back {back:.1f} s after")
    _all_answered(summary)
    assert summary["total"]["answered_right"] > 3000


def test_redis_cut_off_costs_no_request_and_is_used_again_once_back(
    hosts: tuple[Cluster, Postgres], tmp_path: Path
) -> None:
    fichas, _ = hosts
    before = {h: _metric(fichas, h, "fichas_cache_requests_total", result="bypass") for h in APPS}
    load = _under_load(fichas, tmp_path / "redis")
    for host in APPS:
        fichas.lab.cut(host, "data", REDIS_PORT)
    time.sleep(3)
    serving = fichas.serving(APPS)  # degraded, not out: /ready passes without Redis
    time.sleep(3)
    for host in APPS:
        fichas.lab.heal(host, "data", REDIS_PORT)

    def redis_ok() -> bool:
        return all(
            json.loads(fichas.lab.get("front", f"http://{address}/ready"))["redis"] == "ok"
            for address in _instances(fichas, *APPS)
        )

    again = _wait_until(redis_ok, 10)
    summary = load.finish()
    bypassed = {
        h: _metric(fichas, h, "fichas_cache_requests_total", result="bypass") - before[h]
        for h in APPS
    }
    fallbacks = {h: _metric(fichas, h, "fichas_rate_limit_fallbacks_total") for h in APPS}
    print(f"Redis cut 6 s: cache bypassed {bypassed}, limits counted locally {fallbacks}; "
          f"every instance used it again {again:.1f} s after the link healed")  # fmt: skip
    _all_answered(summary)
    assert serving == _instances(fichas, *APPS)
    assert all(count > 0 for count in bypassed.values()), bypassed
    assert all(count > 0 for count in fallbacks.values()), fallbacks


def test_an_app_host_cut_off_from_postgresql_leaves_the_rotation(
    hosts: tuple[Cluster, Postgres], tmp_path: Path
) -> None:
    fichas, _ = hosts
    refused_before = _metric(fichas, "app1", "fichas_http_requests_total", status="503")
    load = _under_load(fichas, tmp_path / "postgres-cut", seconds=30)
    cut_at = time.time()
    fichas.lab.cut("app1", "data", POSTGRES_PORT)
    time.sleep(8)
    fichas.lab.heal("app1", "data", POSTGRES_PORT)
    healed_at = time.time()
    # The last PC request the front sent app1 while it was cut off arrived this long after the
    # cut (it was answered 503, and retried elsewhere by the front).
    arrivals = [at - cut_at for at in fichas.arrivals("app1") if cut_at <= at < healed_at]
    left = max(arrivals, default=0.0)
    back = _wait_until(lambda: fichas.serving(APPS) == _instances(fichas, *APPS), 15)
    summary = load.finish()
    refused = _metric(fichas, "app1", "fichas_http_requests_total", status="503") - refused_before
    slow = [e for e in _front_answers(fichas, load) if e["duration"] > 1]
    print(f"app1 out of rotation {left:.1f} s after its PostgreSQL link was cut; its instances "
          f"answered {refused:.0f} requests 503 meanwhile, each retried elsewhere by the front "
          f"({len(slow)} PC requests took over 1 s, the slowest "
          f"{max((e['duration'] for e in slow), default=0):.1f} s); back {back:.1f} s after "
          "the link healed")  # fmt: skip
    _all_answered(summary)
    assert left <= 5


def test_postgresql_restarted_answers_quick_503s_then_recovers_and_loses_nothing(
    hosts: tuple[Cluster, Postgres], tmp_path: Path
) -> None:
    fichas, database = hosts
    pids = {h: _pids_of(fichas, h) for h in APPS}
    load = _under_load(fichas, tmp_path / "postgres-restart", seconds=25)
    database.stop()
    time.sleep(3)
    database.start()
    back = _wait_until(lambda: fichas.serving(APPS) == _instances(fichas, *APPS), 10)
    summary = load.finish()
    made, unnamed = _pedidos_since(database, load.started)
    acknowledged = summary["endpoints"]["POST /pedidos"]["answered_right"]
    refusals = [e for e in _front_answers(fichas, load) if e["status"] >= 500]
    slowest = max((e["duration"] for e in refusals), default=0.0)
    print(f"PostgreSQL down 3 s: {len(refusals)} requests answered "
          f"{sorted({e['status'] for e in refusals})} (the slowest in {slowest:.2f} s); every "
          f"instance ready again {back:.1f} s after it was back; {acknowledged} pedidos "
          f"acknowledged, {made} in the database")  # fmt: skip
    assert {w["why"] for w in summary["wrong"]} <= {"status 503 (k6 error 1503)"}
    assert slowest < 3
    assert made >= acknowledged  # nothing acknowledged was lost
    assert unnamed == 0  # and nothing was made twice
    assert {h: _pids_of(fichas, h) for h in APPS} == pids  # nothing was restarted


def test_an_app_host_lost_under_load_costs_no_request_and_duplicates_no_pedido(
    hosts: tuple[Cluster, Postgres], tmp_path: Path
) -> None:
    # The last of the module: app2 stays lost.
    fichas, database = hosts
    load = _under_load(fichas, tmp_path / "host-lost")
    fichas.lab.link("app2", up=False)
    fichas.lab.kill_all("app2")
    summary = load.finish()
    made, unnamed = _pedidos_since(database, load.started)
    print(f"app2 lost: {summary['total']['answered_right']} requests answered right, "
          f"{made} pedidos made")  # fmt: skip
    _all_answered(summary)
    assert unnamed == 0
    assert made >= summary["endpoints"]["POST /pedidos"]["answered_right"] > 0


def _pids_of(fichas: Cluster, host: str) -> list[int]:
    status = json.loads((fichas.data_dir(host) / "cluster" / "status.json").read_text())
    return [status["supervisor_pid"], *(i["pid"] for i in status["instances"])]
