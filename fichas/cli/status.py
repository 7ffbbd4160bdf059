"""``fichas status``: what ``fichas up`` runs now — each process, its health, uptime, restarts."""

from __future__ import annotations

import argparse
import json
import time
from urllib.parse import urlsplit

from fichas.processes import probe


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("status", help="show the running cluster's processes")
    parser.set_defaults(run=run)


def _health(url: str | None) -> str:
    return "-" if url is None else probe(url, timeout=2)


def _uptime(started_at: float) -> str:
    seconds = int(time.time() - started_at)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s"


def run(args: argparse.Namespace) -> int:
    from fichas.settings import load_settings

    path = load_settings().status_file
    if not path.exists():
        print(f"fichas: no cluster is running here ({path} is absent); start one with `fichas up`")
        return 1
    status = json.loads(path.read_text())
    print(f"supervisor pid {status['supervisor_pid']}, metrics on {status['metrics_url']}")
    print(f"{'process':<12} {'port':>6} {'pid':>8} {'health':<22} {'uptime':>11} {'restarts':>8}")
    for child in [*status["instances"], status["proxy"], *status.get("companions", [])]:
        port = urlsplit(child["health_url"]).port if child["health_url"] else None
        print(
            f"{child['name']:<12} {port or '-':>6} {child['pid'] or '-':>8} "
            f"{_health(child['health_url']):<22} {_uptime(child['started_at']):>11} "
            f"{child['restarts']:>8}"
        )
    return 0
