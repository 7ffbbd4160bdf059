"""The PCs with and without an attacker beside them, in one run (issue 17's benchmark).

One cluster (``fichas up``, 3 instances, on the load test's demo data), one set of PC keys; then
runs of the ``pcs`` load (25 PCs, think 0, k6) alternating without (A) and with (B) the attacker
of ``loadtest/attacker.py`` sending its hostile requests the whole run: A B A B … so that drift of
this shared machine lands on both sides. Per run: req/s, success, p50/p95/p99 at full load, and
what the attacker got back; at the end, the ratios B/A of the medians.

The issue's target: with the attacker, the PCs' success stays 100.00 % and p99 within 1.25× of
the runs without it; nothing the attacker sends is answered 5xx.

Run from the repository root with::

    uv run python -m benchmarks.hostile [--pairs 2] [--seconds 30] [--pcs 25]
                                        [--out results/hostile-<date>.json]

Traffic goes to 127.0.0.1 only; the cluster is stopped by PID when the script ends.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.core_api import alternating_options, write_report
from loadtest import k6, report
from loadtest.attacker import attacking
from loadtest.target import own_cluster, temporary_keys

LENIENT = k6.Slo(success=0.0, p95_ms=60_000, p99_ms=60_000)  # measure; judge afterwards


def one_run(url: str, tokens: list[str], args: argparse.Namespace, results: Path) -> dict[str, Any]:
    load = k6.Load(url, tokens, args.pcs, args.seconds, 0.0)
    with (
        attacking(url if results.name.endswith("B") else None) as tally,
        k6.running(load, LENIENT, results, lambda *_: None) as finish,
    ):
        run = finish()
    total = report.run_figures(run)["total"]
    figures = {
        "side": "B (attacker)" if tally else "A (PCs alone)",
        "req_per_s": round(total["req_per_s"], 1),
        "success_pct": total["success_pct"],
        "p50_ms": total["p50_ms"],
        "p95_ms": total["p95_ms"],
        "p99_ms": total["p99_ms"],
    }
    if tally is not None:
        figures["attacker_requests"] = tally.sent
        figures["attacker_5xx"] = sum(tally.server_errors().values())
    print(
        f"{results.name:>4} {figures['side']:<14} {figures['req_per_s']:>8,.1f} req/s  "
        f"success {figures['success_pct']:.2f} %  p50 {figures['p50_ms']:.1f}  "
        f"p95 {figures['p95_ms']:.1f}  p99 {figures['p99_ms']:.1f} ms"
        + (f"  attacker {tally.sent:,} requests, 5xx {figures['attacker_5xx']}" if tally else ""),
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    alternating_options(parser, "hostile", pairs=2, seconds=30.0)
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")  # names the run's keys
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fichas-hostile-") as scratch:
        data_dir = Path(scratch)
        with (
            own_cluster(data_dir, 3, data_dir / "cluster.log") as target,
            temporary_keys(target, f"hostile-{stamp}", args.pcs) as tokens,
        ):
            for n in range(args.pairs):
                for side in "AB":
                    runs.append(one_run(target.url, tokens, args, data_dir / f"{n + 1}{side}"))
    sides = {s: [r for r in runs if r["side"].startswith(s)] for s in "AB"}
    median = {s: {k: statistics.median(r[k] for r in rs) for k in ("req_per_s", "p99_ms")}
              for s, rs in sides.items()}  # fmt: skip
    ratios = {
        "req_per_s_B_over_A": round(median["B"]["req_per_s"] / median["A"]["req_per_s"], 3),
        "p99_B_over_A": round(median["B"]["p99_ms"] / median["A"]["p99_ms"], 3),
    }
    held = (
        all(r["success_pct"] == 100.0 for r in runs)
        and ratios["p99_B_over_A"] <= 1.25
        and all(r["attacker_5xx"] == 0 for r in sides["B"])
    )
    print(f"\nmedians {median}\nratios {ratios}\ntarget {'met' if held else 'MISSED'}")
    write_report(args.out, {"runs": runs, "medians": median, "ratios": ratios, "met": held})


if __name__ == "__main__":
    main()
