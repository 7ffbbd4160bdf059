"""A cluster on several hosts (PostgreSQL and Redis) against one host (SQLite), same load, one run.

Two targets, each loaded from the same machine in turn:

- **one host**: ``fichas loadtest``'s own cluster — 3 instances behind Caddy, on a fresh SQLite
  file of demo data, no Redis — as ``fichas up`` runs by default;
- **several hosts**: tests/hosts/lab.py's simulated hosts — PostgreSQL and Redis on the data
  host, two app hosts of 2 instances each, Caddy on the front host, k6 on the load host.

For each: 25 PCs without think time for ``--seconds``, then the capacity steps (1 s think time,
``--steps``, ``--step-seconds`` each). For the several hosts, the CPU each host's processes
used during the 25-PC run, per request: the cost of each tier.

Run from the repository root, as root (network namespaces)::

    uv run python -m benchmarks.hosts [--seconds 30] [--steps 100,200,400,600,800,1000]
                                      [--step-seconds 15] [--out results/hosts-<date>.json]

The hosts share this machine's cores: the several hosts' figures are what the software costs,
not what five machines would serve. Every process started here is stopped by PID, the hosts are
torn down, and traffic goes to 127.0.0.1 or 198.18.0.0/24 only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.hosts.lab import FICHAS, cluster, lab, lab_unavailable, postgres

TICKS = os.sysconf("SC_CLK_TCK")
# The hosts whose CPU is counted: the load host's k6 has exited by the second look.
TIERS = ("data", "app1", "app2", "front")


def _cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time (user + system) the processes ``pids`` used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    total = summary["total"]
    return {k: round(total[k], 2) for k in ("req_per_s", "success_pct", "p95_ms", "p99_ms")}


def _capacity(summary: dict[str, Any]) -> dict[str, Any]:
    steps = [{"pcs": s["pcs"], "slo_met": s["slo_met"], **_figures(s)} for s in summary["steps"]]
    return {"pcs_at_slo": summary["pcs_at_slo"], "steps": steps}


def _one_host(results: Path, options: Sequence[str]) -> dict[str, Any]:
    env = {**os.environ, "FICHAS_LOG_LEVEL": "warning"}
    for name in ("FICHAS_DATABASE_URL", "FICHAS_REDIS_URL"):
        env.pop(name, None)
    argv = [*FICHAS, "loadtest", "--results", str(results), *options]
    subprocess.run(argv, env=env, check=False, capture_output=True, timeout=1800)  # noqa: S603
    summary: dict[str, Any] = json.loads((results / "summary.json").read_text())
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="the 25-PC run (default 30)")
    parser.add_argument("--steps", default="100,200,400,600,800,1000", help="capacity's PCs")
    parser.add_argument("--step-seconds", type=int, default=15, help="each step (default 15)")
    parser.add_argument("--out", type=Path, help="JSON results (default results/hosts-<time>)")
    args = parser.parse_args(argv)
    if (reason := lab_unavailable()) is not None:
        print(f"benchmarks.hosts: {reason}", file=sys.stderr)
        return 2
    pcs = ["--pcs", "25", "--duration", f"{args.seconds}s"]
    capacity = ["--scenario", "capacity", "--think", "1s", "--steps", args.steps,
                "--duration", f"{args.step_seconds}s"]  # fmt: skip
    options = {**vars(args), "out": str(args.out)}
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "options": options}
    with tempfile.TemporaryDirectory(prefix="fichas-bench-hosts-") as temporary:
        folder = Path(temporary)
        print("one host, 25 PCs ...", flush=True)
        report["one_host"] = {"pcs": _figures(_one_host(folder / "one-pcs", pcs))}
        print(f"  {report['one_host']['pcs']}", flush=True)
        with (
            lab(folder / "lab") as hosts,
            postgres(hosts) as database,
            cluster(hosts, database) as fichas,
        ):
            print("several hosts, 25 PCs ...", flush=True)
            before = {host: _cpu_seconds(hosts.pids(host)) for host in TIERS}
            summary = fichas.load(folder / "many-pcs", *pcs).finish(timeout=600)
            # Processes that ended meanwhile would be missed (the instances' PostgreSQL
            # connections are pooled: their backends live as long as the instances).
            used = {host: _cpu_seconds(hosts.pids(host)) - before[host] for host in TIERS}
            answered = summary["total"]["answered_right"]
            report["several_hosts"] = {
                "pcs": _figures(summary),
                "cpu_ms_per_request": {
                    host: round(1000 * seconds / answered, 3) for host, seconds in used.items()
                },
            }
            print(f"  {report['several_hosts']}", flush=True)
            print("several hosts, capacity ...", flush=True)
            steps = fichas.load(folder / "many-capacity", *capacity).finish(timeout=1800)
            report["several_hosts"]["capacity"] = _capacity(steps)
        print("one host, capacity ...", flush=True)
        report["one_host"]["capacity"] = _capacity(_one_host(folder / "one-capacity", capacity))
    out = args.out or Path("results") / f"hosts-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    _print(report, print)
    print(f"results in {out}")
    return 0


def _print(report: dict[str, Any], say: Callable[[str], None]) -> None:
    for name in ("one_host", "several_hosts"):
        target = report[name]
        say(f"{name}: 25 PCs {target['pcs']}; capacity (1 s think): "
            f"{target['capacity']['pcs_at_slo']} PCs at SLO")  # fmt: skip
        for step in target["capacity"]["steps"]:
            say(f"  {step}")
    say(f"several hosts, CPU ms per request: {report['several_hosts']['cpu_ms_per_request']}")


if __name__ == "__main__":
    sys.exit(main())
