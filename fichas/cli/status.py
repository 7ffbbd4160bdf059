"""``fichas status [--json]``: what ``fichas up`` runs now — where the PCs reach it, each process
with its health, uptime and restarts, and how the backups and the replica stand.

Read from the status file the supervisor keeps, then asked of the processes themselves, all at
once (one thread per probe: the slowest answer, not their sum, sets how long it takes).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from fichas.processes import HEALTHY, probe

# What the supervisor's /metrics tells about the jobs that are not processes.
BACKUP_METRICS = (
    "fichas_backup_last_success_timestamp_seconds",
    "fichas_backup_interval_seconds",
    "fichas_backup_failures",
    "fichas_replication_lag_seconds",
)


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("status", help="show the running cluster: URL, processes, backups")
    parser.add_argument("--json", action="store_true", help="print it as JSON, for scripts")
    parser.set_defaults(run=run)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s"


def _metrics(url: str | None) -> dict[str, float] | None:
    """The backup and replication figures of the supervisor's /metrics (unlabelled samples);
    None when it did not answer.
    Four unlabelled lines read by hand, not with observability/scrape.py's parser: loading
    prometheus_client would cost `fichas status` most of what is left of its 0.5 s."""
    if url is None:
        return None
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback URL
            text = answer.read().decode()
    except OSError:
        return None
    figures = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in BACKUP_METRICS:
            figures[name] = float(value)
    return figures


def gather(status: dict[str, Any], now: float) -> dict[str, Any]:
    """The status file's processes with their health asked now, and the backups' figures."""
    from concurrent.futures import ThreadPoolExecutor

    proxy = [status["proxy"]] if status.get("proxy") else []  # an app host runs none
    children = [*status["instances"], *proxy, *status.get("companions", [])]
    with ThreadPoolExecutor(max_workers=len(children) + 1) as pool:
        healths = [
            pool.submit(lambda u: "-" if u is None else probe(u, timeout=2), c["health_url"])
            for c in children
        ]
        metrics = pool.submit(_metrics, status.get("metrics_url"))
        processes = [
            {
                "name": child["name"],
                "pid": child["pid"],
                "health": health.result(),
                "uptime_seconds": round(now - child["started_at"]),
                "restarts": child["restarts"],
                "url": child.get("url"),
            }
            for child, health in zip(children, healths, strict=True)
        ]
        answered = metrics.result()
    figures = answered or {}
    last = figures.get("fichas_backup_last_success_timestamp_seconds")
    return {
        "url": status.get("url"),
        "supervisor": {
            "pid": status["supervisor_pid"],
            "uptime_seconds": round(now - status.get("started_at", now)),
            "metrics_url": status.get("metrics_url"),
        },
        "processes": processes,
        "backups": {
            "known": answered is not None,
            "last_seconds_ago": None if not last else round(now - last),
            "interval_seconds": figures.get("fichas_backup_interval_seconds"),
            "failures": figures.get("fichas_backup_failures"),
            "replica_lag_seconds": figures.get("fichas_replication_lag_seconds"),
        },
    }


def _backups_line(backups: dict[str, Any]) -> str:
    if not backups["known"]:
        return "backups: not known (the supervisor's metrics did not answer)"
    if backups["interval_seconds"] is None:
        return "backups: not taken on this host (fichas up --role app --backups takes them)"
    every = _duration(backups["interval_seconds"])
    if backups["last_seconds_ago"] is None:
        line = f"backups: none yet (every {every})"
    else:
        line = f"backups: last {_duration(backups['last_seconds_ago'])} ago (every {every})"
    if backups["failures"]:
        line += f", {backups['failures']:.0f} failed attempts since it last succeeded"
    if backups["replica_lag_seconds"] is not None:
        line += f"; replica {backups['replica_lag_seconds']:.1f} s behind"
    return line


def show(report: dict[str, Any]) -> str:
    supervisor = report["supervisor"]
    lines = [
        f"fichas is up on {report['url']} "
        f"(supervisor pid {supervisor['pid']}, up {_duration(supervisor['uptime_seconds'])})",
        f"{'process':<13} {'pid':>8}  {'health':<22} {'uptime':>10} {'restarts':>8}  url",
    ]
    for p in report["processes"]:
        lines.append(
            f"{p['name']:<13} {p['pid'] or '-':>8}  {p['health']:<22} "
            f"{_duration(p['uptime_seconds']):>10} {p['restarts']:>8}  {p['url'] or ''}".rstrip()
        )
    lines.append(_backups_line(report["backups"]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from fichas.cli.running import status_file

    if (path := status_file()) is None:
        return 1
    report = gather(json.loads(path.read_text()), time.time())
    print(json.dumps(report, indent=2) if args.json else show(report))
    unhealthy = [p for p in report["processes"] if p["health"] not in (HEALTHY, "-")]
    return 3 if unhealthy else 0
