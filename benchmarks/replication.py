"""What continuous replication (Litestream, backup/replication.py) protects, and what it costs
(issue 18's benchmark). Four measurements, each its own sub-command:

- ``drills``: the disk-loss drill, N times: 25 PCs write orders through ``fichas up`` (3
  instances) for 20 s; every process is killed (``kill -9``) and the database files deleted;
  ``fichas restore --latest``; ``fichas up`` again. Per drill: orders acknowledged, how many
  the restored database lacks (the RPO, in orders, and how long before the kill the newest
  lost one was acknowledged), and the RTO: from the restore command to serving again.
- ``rto``: the same restore on a large database (100,000 pedidos by default), beside the
  restore of an hourly snapshot of it, for scale.
- ``cost``: the ``pcs`` load (25 PCs, think 0, k6) on a cluster without replication (A) and one
  with it (B), both running, loaded in turn A B A B …: req/s, p99 and the CPU per request of
  the instances, Caddy and Litestream (from ``/proc``), and the ratios B/A.
- ``growth``: the ``pcs`` load for some minutes on one cluster, sampling every minute the
  replica's size and Litestream's sync time (from its own /metrics), to give them per hour.

Run from the repository root with::

    uv run python -m benchmarks.replication drills [--count 5]
    uv run python -m benchmarks.replication rto [--pedidos 100000]
    uv run python -m benchmarks.replication cost [--pairs 2] [--seconds 30]
    uv run python -m benchmarks.replication growth [--minutes 10]

Every sub-command takes ``--out results/replication-<what>-<date>.json``. Traffic goes to
127.0.0.1 only; every cluster is stopped by PID when its part ends.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backup import manifest, sqlite
from benchmarks.core_api import ROOT, alternating_options, cpu_seconds, write_report
from loadtest import k6, report
from loadtest.orders import OrderWriters
from loadtest.target import Target, own_cluster, temporary_keys
from proxy.supervisor import targets_beside

PCS = 25
DRILL_SECONDS = 20
LENIENT = k6.Slo(success=0.0, p95_ms=60_000, p99_ms=60_000)  # measure; judge afterwards


def _fichas(data_dir: Path, *arguments: str) -> float:
    """Run a ``fichas`` command on ``data_dir``; the seconds it took (it must succeed)."""
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir)}
    env.pop("FICHAS_DATABASE_URL", None)
    started = time.monotonic()
    subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "fichas.cli", *arguments],
        env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    return time.monotonic() - started


def _status(target: Target) -> dict[str, Any]:
    assert target.status_path is not None
    status: dict[str, Any] = json.loads(target.status_path.read_text())
    return status


def _metrics(url: str) -> dict[str, float]:
    """A /metrics page as {series: value} (series as exposed, labels and all)."""
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            values[series] = float(value)
    return values


def _wait_caught_up(target: Target, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _metrics(_status(target)["metrics_url"]).get("fichas_replication_lag_seconds", 1) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not catch up")
        time.sleep(0.5)
    time.sleep(1.5)  # the lag is exact to a second: past the next one, everything is there


def _lose_the_disk(data_dir: Path) -> None:
    database = data_dir / "fichas.db"
    for part in (database, *sqlite.sidecars(database)):
        part.unlink(missing_ok=True)
    shutil.rmtree(data_dir / ".fichas.db-litestream", ignore_errors=True)


def _pedidos(database: Path) -> set[int]:
    with closing(sqlite.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM pedidos")}


def drill(scratch: Path, number: int) -> dict[str, Any]:
    data_dir = scratch / f"drill-{number}"
    data_dir.mkdir()
    log = data_dir / "cluster.log"
    with own_cluster(data_dir, 3, log) as target:
        writers = OrderWriters(target.url, target.admin_key, PCS, think=0.0).start()
        time.sleep(DRILL_SECONDS)
        status = _status(target)
        children = [*status["instances"], status["proxy"], *status["companions"]]
        killed_at = time.time()
        for pid in [status["supervisor_pid"], *(child["pid"] for child in children)]:
            os.kill(pid, signal.SIGKILL)  # the supervisor first: it restarts nothing
        acknowledged = writers.stop()
    _lose_the_disk(data_dir)
    started = time.monotonic()
    restore_seconds = _fichas(data_dir, "restore", "--latest")
    present = _pedidos(data_dir / "fichas.db")
    with own_cluster(data_dir, 3, log):
        serving_seconds = time.monotonic() - started
    lost = set(acknowledged.at) - present
    figures = {
        "acknowledged": len(acknowledged.at),
        "lost": len(lost),
        "newest_lost_acknowledged_s_before_kill": round(
            max((killed_at - acknowledged.at[pid] for pid in lost), default=0.0), 3
        ),
        "lost_acknowledged_over_1s_before_kill": sum(
            1 for pid in lost if acknowledged.at[pid] < killed_at - 1
        ),
        "restore_s": round(restore_seconds, 2),
        "rto_s": round(serving_seconds, 2),
    }
    print(f"drill {number}: {figures}", flush=True)
    return figures


def drills(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    runs = [drill(scratch, n + 1) for n in range(args.count)]
    summary = {
        "lost_p100": max(r["lost"] for r in runs),
        "newest_lost_s_p100": max(r["newest_lost_acknowledged_s_before_kill"] for r in runs),
        "lost_over_1s_p100": max(r["lost_acknowledged_over_1s_before_kill"] for r in runs),
        "rto_s_median": statistics.median(r["rto_s"] for r in runs),
        "rto_s_p100": max(r["rto_s"] for r in runs),
    }
    print(f"\nsummary {summary}")
    return {"drills": runs, "summary": summary}


def rto(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    data_dir = scratch / "large"
    data_dir.mkdir()
    _fichas(data_dir, "migrate")
    _fichas(data_dir, "demo-data", "--clientes", "2000", "--pedidos", str(args.pedidos))
    database = data_dir / "fichas.db"
    with own_cluster(data_dir, 3, data_dir / "cluster.log") as target:
        _wait_caught_up(target)
        replica_bytes = _metrics(_status(target)["metrics_url"])["fichas_replica_size_bytes"]
    database_bytes = sum(p.stat().st_size for p in (database, *sqlite.sidecars(database)))
    snapshot_seconds = _fichas(data_dir, "backup", "run")
    backup_id = manifest.complete(data_dir / "backups")[-1].id

    _lose_the_disk(data_dir)
    started = time.monotonic()
    replica_restore = _fichas(data_dir, "restore", "--latest")
    with own_cluster(data_dir, 3, data_dir / "cluster.log"):
        replica_rto = time.monotonic() - started
    pedidos = len(_pedidos(database))

    _lose_the_disk(data_dir)
    snapshot_restore = _fichas(data_dir, "restore", backup_id)
    figures = {
        "pedidos": pedidos,
        "database_mb": round(database_bytes / 1e6, 1),
        "replica_mb": round(replica_bytes / 1e6, 1),
        "replica_restore_s": round(replica_restore, 2),
        "replica_rto_s": round(replica_rto, 2),
        "snapshot_take_s": round(snapshot_seconds, 2),
        "snapshot_restore_s": round(snapshot_restore, 2),
    }
    print(figures)
    return figures


@contextmanager
def _cluster(data_dir: Path, replication: bool) -> Iterator[Target]:
    data_dir.mkdir()
    before = os.environ.get("FICHAS_REPLICATION")
    os.environ["FICHAS_REPLICATION"] = str(replication).lower()  # own_cluster passes it on
    try:
        with own_cluster(data_dir, 3, data_dir / "cluster.log") as target:
            yield target
    finally:
        if before is None:
            os.environ.pop("FICHAS_REPLICATION")
        else:
            os.environ["FICHAS_REPLICATION"] = before


def _cpu(target: Target) -> dict[str, float]:
    """CPU seconds so far of the cluster's processes, by group: the instances, Caddy, and
    Litestream when it runs."""
    status = _status(target)
    groups = {
        "instances": [i["pid"] for i in status["instances"]],
        "caddy": [status["proxy"]["pid"]],
    }
    groups |= {c["name"]: [c["pid"]] for c in status["companions"]}
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}


def _pcs_run(
    target: Target, tokens: list[str], seconds: float, results: Path, pcs: int = PCS
) -> dict[str, Any]:
    """One ``pcs`` run: req/s, success, latency, and CPU ms per request of each group."""
    load = k6.Load(target.url, tokens, pcs, seconds, 0.0)
    before = _cpu(target)
    with k6.running(load, LENIENT, results, lambda *_: None) as finish:
        run = finish()
    after = _cpu(target)
    total = report.run_figures(run)["total"]
    figures = {k: total[k] for k in ("req_per_s", "success_pct", "p50_ms", "p95_ms", "p99_ms")}
    requests = total["req_per_s"] * seconds
    for group, spent in after.items():
        figures[f"{group}_cpu_ms_per_request"] = round(1000 * (spent - before[group]) / requests, 3)
    return figures


def cost(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with (
        _cluster(scratch / "off", replication=False) as off,
        _cluster(scratch / "on", replication=True) as on,
        temporary_keys(off, "replication-off", args.pcs) as off_tokens,
        temporary_keys(on, "replication-on", args.pcs) as on_tokens,
    ):
        sides = {"A": (off, off_tokens), "B": (on, on_tokens)}
        for n in range(args.pairs):
            for side, (target, tokens) in sides.items():
                figures = _pcs_run(
                    target, tokens, args.seconds, scratch / f"{n + 1}{side}", args.pcs
                )
                figures["side"] = side
                runs.append(figures)
                print(f"{n + 1}{side} {'replication ' + ('on' if side == 'B' else 'off'):<16} "
                      f"{figures}", flush=True)  # fmt: skip
    median = {
        side: {k: statistics.median(r[k] for r in runs if r["side"] == side)
               for k in ("req_per_s", "p99_ms")}
        for side in "AB"
    }  # fmt: skip
    for side in "AB":
        median[side]["instances_cpu_ms_per_request"] = statistics.median(
            r["instances_cpu_ms_per_request"] for r in runs if r["side"] == side
        )
    ratios = {
        "req_per_s_B_over_A": round(median["B"]["req_per_s"] / median["A"]["req_per_s"], 3),
        "p99_B_over_A": round(median["B"]["p99_ms"] / median["A"]["p99_ms"], 3),
    }
    print(f"\nmedians {median}\nratios {ratios} (target: at most 5 % cost)")
    return {"runs": runs, "medians": median, "ratios": ratios}


def growth(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    samples: list[dict[str, float]] = []
    with (
        _cluster(scratch / "growth", replication=True) as target,
        temporary_keys(target, "replication-growth", PCS) as tokens,
    ):
        status = _status(target)
        litestream_metrics = f"http://{_scrape_address(target, 'litestream')}/metrics"

        def sample(minute: int) -> None:
            supervisor = _metrics(status["metrics_url"])
            own = _metrics(litestream_metrics)
            syncs = _one(own, "litestream_sync_count")
            samples.append({
                "minute": minute,
                "replica_mb": round(supervisor["fichas_replica_size_bytes"] / 1e6, 2),
                "database_mb": round(supervisor["fichas_database_size_bytes"] / 1e6, 2),
                "syncs": syncs,
                "sync_seconds": _one(own, "litestream_sync_seconds"),
                "lag_s": supervisor["fichas_replication_lag_seconds"],
            })  # fmt: skip
            print(f"minute {minute}: {samples[-1]}", flush=True)

        load = k6.Load(target.url, tokens, PCS, args.minutes * 60, 0.0)
        with k6.running(load, LENIENT, scratch / "growth-k6", lambda *_: None) as finish:
            sample(0)
            for minute in range(1, args.minutes + 1):
                time.sleep(60)
                sample(minute)
            run = finish()
    first, last = samples[0], samples[-1]
    hours = (last["minute"] - first["minute"]) / 60
    syncs = last["syncs"] - first["syncs"]
    figures = {
        "req_per_s": report.run_figures(run)["total"]["req_per_s"],
        "replica_mb_per_hour": round((last["replica_mb"] - first["replica_mb"]) / hours, 1),
        "database_mb_per_hour": round((last["database_mb"] - first["database_mb"]) / hours, 1),
        "syncs_per_hour": round(syncs / hours),
        "mean_sync_ms": round(1000 * (last["sync_seconds"] - first["sync_seconds"]) / syncs, 2),
        "max_lag_s": max(s["lag_s"] for s in samples),
    }
    print(f"\n{figures}")
    return {"samples": samples, "per_hour": figures}


def _scrape_address(target: Target, job: str) -> str:
    assert target.status_path is not None
    groups = json.loads(targets_beside(target.status_path).read_text())
    [address] = [g["targets"][0] for g in groups if g["labels"]["job"] == job]
    return str(address)


def _one(values: dict[str, float], name: str) -> float:
    """The value of the one series of ``name`` (Litestream labels its series by database)."""
    [value] = [v for series, v in values.items() if series.split("{")[0] == name]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = parser.add_subparsers(dest="part", required=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    measurements: dict[str, Callable[[argparse.Namespace, Path], dict[str, Any]]] = {
        "drills": drills, "rto": rto, "cost": cost, "growth": growth,
    }  # fmt: skip
    for name in measurements:
        part = parts.add_parser(name)
        if name == "cost":
            alternating_options(part, "replication-cost", pairs=2, seconds=30.0)
            continue
        part.add_argument(
            "--out", type=Path, default=ROOT / "results" / f"replication-{name}-{stamp}.json"
        )
    parts.choices["drills"].add_argument("--count", type=int, default=5)
    parts.choices["rto"].add_argument("--pedidos", type=int, default=100_000)
    parts.choices["growth"].add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fichas-replication-") as scratch:
        results = measurements[args.part](args, Path(scratch))
    write_report(args.out, {"host": os.uname().nodename, "cpus": os.cpu_count(), **results})


if __name__ == "__main__":
    main()
