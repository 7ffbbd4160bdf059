"""This checkout against another one (e.g. the commit before a change), under the same PC load.

What a change costs per request, measured as a ratio in one run: for each checkout in turn —
A (the baseline given), B (this one), A, B … — its own ``fichas up`` (3 instances, on demo data,
started with that checkout's own environment), then 25 PCs (k6, think 0, this checkout's load
script) for ``--seconds``, while the CPU time of the cluster's processes is read from ``/proc``.
Per run: req/s, p99, and CPU milliseconds per request of the instances and of Caddy; at the end
the medians and B/A. On a machine whose two cores the load saturates, req/s drifts several per
cent between runs; CPU per request is the steadier figure.

Prepare the baseline once (``git worktree add /tmp/base <commit> && cd /tmp/base && uv sync``),
then run from the repository root with::

    uv run python -m benchmarks.versus --baseline /tmp/base [--pairs 3] [--seconds 20]
                                       [--out results/versus-<date>.json]

Traffic goes to 127.0.0.1 only; each cluster is stopped by PID before the next starts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.cluster import cpu_by_pid, tree
from benchmarks.core_api import ROOT, alternating_options, write_report
from fichas.processes import free_port, stop_process
from loadtest import k6, report
from loadtest.target import Target, temporary_keys

LENIENT = k6.Slo(success=0.0, p95_ms=60_000, p99_ms=60_000)  # measure; compare afterwards


@contextmanager
def cluster_of(checkout: Path, data_dir: Path) -> Iterator[tuple[Target, int]]:
    """``fichas up`` of ``checkout`` on demo data; yields the target and the supervisor's pid."""
    fichas = str(checkout / ".venv" / "bin" / "fichas")
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir)}
    for setting in ("FICHAS_DATABASE_URL", "FICHAS_REDIS_URL", "FICHAS_LOG_LEVEL"):
        env.pop(setting, None)  # the defaults: SQLite, no Redis, the access log at info
    log_path = data_dir / "up.log"
    listen = f"127.0.0.1:{free_port()}"
    with log_path.open("wb") as log:
        for verb in ("migrate", "demo-data"):
            subprocess.run(  # noqa: S603 (that checkout's console script)
                [fichas, verb], env=env, cwd=checkout, stdout=log, stderr=log, check=True
            )
        process = subprocess.Popen(  # noqa: S603 (that checkout's console script)
            [fichas, "up", "--listen", listen], env=env, cwd=checkout, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 120
        while b"fichas is up" not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"fichas up of {checkout} did not start; see {log_path}")
            time.sleep(0.2)
        admin_key = (data_dir / "admin.key").read_text().strip()
        yield Target(f"http://{listen}", admin_key), process.pid
    finally:
        stop_process(process, timeout=30)


def cpu_by_group(root: int) -> dict[str, float]:
    groups = tree(root)
    seconds: dict[str, float] = {}
    for pid, cpu in cpu_by_pid(list(groups)).items():
        seconds[groups[pid]] = seconds.get(groups[pid], 0.0) + cpu
    return seconds


def one_run(checkout: Path, label: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fichas-versus-") as scratch:
        data_dir = Path(scratch)
        with (
            cluster_of(checkout, data_dir) as (target, supervisor),
            temporary_keys(target, f"versus-{label}", args.pcs) as tokens,
        ):
            load = k6.Load(target.url, tokens, args.pcs, args.seconds, 0.0)
            before = cpu_by_group(supervisor)
            with k6.running(load, LENIENT, data_dir / "k6", lambda *_: None) as finish:
                run = finish()
            after = cpu_by_group(supervisor)
    total = report.run_figures(run)["total"]
    requests = total["requests"]
    figures = {
        "checkout": label,
        "req_per_s": round(total["req_per_s"], 1),
        "success_pct": total["success_pct"],
        "p99_ms": round(total["p99_ms"], 1),
        **{
            f"{group}_cpu_ms_per_request": round(
                (after.get(group, 0.0) - before.get(group, 0.0)) * 1000 / requests, 3
            )
            for group in ("instances", "caddy")
        },
    }
    print(
        f"{label:<9} {figures['req_per_s']:>8,.1f} req/s  success {figures['success_pct']:.2f} %"
        f"  p99 {figures['p99_ms']:.1f} ms  CPU per request: instances "
        f"{figures['instances_cpu_ms_per_request']:.3f} ms, caddy "
        f"{figures['caddy_cpu_ms_per_request']:.3f} ms",
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout (A)")
    alternating_options(parser, "versus", pairs=3, seconds=20.0)
    args = parser.parse_args()
    checkouts = {"baseline": args.baseline.resolve(), "this": ROOT}
    runs = [
        one_run(checkouts[label], label, args)
        for _ in range(args.pairs)
        for label in ("baseline", "this")
    ]
    keys = ("req_per_s", "p99_ms", "instances_cpu_ms_per_request", "caddy_cpu_ms_per_request")
    medians = {
        label: {k: statistics.median(r[k] for r in runs if r["checkout"] == label) for k in keys}
        for label in checkouts
    }
    ratios = {k: round(medians["this"][k] / medians["baseline"][k], 3) for k in keys}
    print(f"\nmedians {medians}\nthis / baseline {ratios}")
    write_report(args.out, {"baseline": str(args.baseline), "runs": runs, "medians": medians,
                            "ratios": ratios})  # fmt: skip


if __name__ == "__main__":
    main()
