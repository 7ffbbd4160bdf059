"""What observability costs: the ``pcs`` load at 25 PCs with request metrics on and off, and
with tracing off, at 10 % and at 100 % sampling — in one run, so the ratios are comparable.

Each configuration is one ``fichas loadtest --scenario pcs`` (its own 3-instance cluster on
demo data, k6 on the same machine), run twice in the order A B C D, then D C B A, so that a
drift of the machine during the run weighs on every configuration alike; the figures are the
means of the two. Traces go to an OTLP/HTTP receiver in this process (tests/otlp.py), which
decodes every span, as a collector on the same machine would.

Run from the repository root with::

    uv run python -m benchmarks.observability [--duration 30s] [--out results/observability.json]

Every process started here is stopped by its runner; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.otlp import otlp_receiver

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    name: str
    env: dict[str, str]  # added to the environment; "{otlp}" is the receiver's URL


TRACING = {"OTEL_EXPORTER_OTLP_ENDPOINT": "{otlp}"}
CONFIGS = (
    Config("metrics off, tracing off", {"FICHAS_REQUEST_METRICS": "false"}),
    Config("metrics on, tracing off", {}),
    Config(
        "metrics on, tracing 10 %",
        TRACING
        | {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    ),
    Config("metrics on, tracing 100 %", TRACING | {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}),
)


def one_run(config: Config, otlp: str, duration: str, results: Path) -> dict[str, Any]:
    env = {**os.environ, **{k: v.format(otlp=otlp) for k, v in config.env.items()}}
    argv = [sys.executable, "-m", "fichas.cli", "loadtest", "--scenario", "pcs", "--pcs", "25",
            "--duration", duration, "--results", str(results)]  # fmt: skip
    subprocess.run(argv, env=env, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)  # noqa: S603
    summary: dict[str, Any] = json.loads((results / "summary.json").read_text())
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {config.name: [] for config in CONFIGS}
    with otlp_receiver() as receiver, tempfile.TemporaryDirectory() as scratch:
        for n, config in enumerate([*CONFIGS, *reversed(CONFIGS)]):
            summary = one_run(config, receiver.url, args.duration, Path(scratch) / str(n))
            total = summary["total"]
            runs[config.name].append(total)
            figures = f"{total['req_per_s']:8.1f} req/s  p99 {total['p99_ms']:6.1f} ms"
            print(f"{config.name:<28} {figures}  {total['success_pct']:.2f} %", flush=True)
        spans = len(receiver.spans)
    baseline = _mean(runs[CONFIGS[1].name], "req_per_s")
    rows = []
    for config in CONFIGS:
        rate = _mean(runs[config.name], "req_per_s")
        rows.append({"config": config.name, "req_per_s": rate,
                     "p99_ms": _mean(runs[config.name], "p99_ms"),
                     "success_pct": min(t["success_pct"] for t in runs[config.name]),
                     "vs_metrics_on": rate / baseline})  # fmt: skip
    print(f"\n{'configuration':<28} {'req/s':>8} {'p99 ms':>7} {'vs metrics on':>14}")
    for row in rows:
        print(f"{row['config']:<28} {row['req_per_s']:8.1f} {row['p99_ms']:7.1f} "
              f"{row['vs_metrics_on']:14.3f}")  # fmt: skip
    print(f"spans received: {spans:,}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        document = {"date": datetime.now(UTC).isoformat(), "duration": args.duration,
                    "rows": rows, "runs": runs, "spans": spans}  # fmt: skip
        args.out.write_text(json.dumps(document, indent=2))
    return 0


def _mean(totals: list[dict[str, Any]], key: str) -> float:
    return sum(float(t[key]) for t in totals) / len(totals)


if __name__ == "__main__":
    sys.exit(main())
