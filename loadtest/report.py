"""What a load test leaves behind: the table on the terminal (in the old system's format, so the
two can be compared line by line), ``summary.json`` and a PNG chart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # the object API: no pyplot state, no screen needed

from loadtest.k6 import Run, Slo
from loadtest.samples import Samples, Tally


def _figures(tally: Tally) -> dict[str, float]:
    avg = sum(tally.durations) / len(tally.durations) if tally.durations else 0.0
    p50, p95, p99 = tally.percentiles(50, 95, 99)
    return {
        "requests": len(tally.durations),
        "success_pct": tally.success,
        "avg_ms": avg,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def run_figures(run: Run) -> dict[str, Any]:
    """The run in numbers: totals, and per endpoint."""
    samples = run.samples
    return {
        "pcs": run.load.pcs,
        "think_s": run.load.think,
        "seconds": run.load.seconds,
        "seconds_in_all": samples.seconds,
        "ramp_s": round(samples.full_load[0], 1),
        "slo_met": run.slo_met,
        "broken_thresholds": run.broken_thresholds,
        "total": {**_figures(samples.total), "req_per_s": samples.rate(run.load.seconds)},
        "endpoints": {name: _figures(tally) for name, tally in sorted(samples.by_endpoint.items())},
    }


def table(figures: dict[str, Any]) -> str:
    """Per endpoint and in total: requests, success %, avg, p95, p99 (ms), then the pace;
    from ``run_figures``."""
    rows = [(name, f) for name, f in figures["endpoints"].items()] + [("TOTAL", figures["total"])]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"{'endpoint':<{width}}  {'requests':>9}  {'success %':>9}  {'avg ms':>8}  "
        f"{'p95 ms':>8}  {'p99 ms':>8}"
    ]
    for name, f in rows:
        if name == "TOTAL":
            lines.append("-" * len(lines[0]))
        lines.append(
            f"{name:<{width}}  {f['requests']:>9,}  {f['success_pct']:>9.2f}  "
            f"{f['avg_ms']:>8.1f}  {f['p95_ms']:>8.1f}  {f['p99_ms']:>8.1f}"
        )
    total = figures["total"]
    ramp = figures["ramp_s"]
    lines.append(
        f"{figures['pcs']} PCs, think {figures['think_s']:g} s: {total['req_per_s']:,.1f} req/s "
        f"over the {figures['seconds']:g} s run"
        + (f" at full load, after {ramp:g} s in which the PCs arrived" if ramp else "")
        + f" ({figures['seconds_in_all']:.1f} s in all, with the sessions it cut finishing)"
    )
    return "\n".join(lines)


def write_summary(path: Path, scenario: str, slo: Slo, body: dict[str, Any]) -> None:
    content = {"scenario": scenario, "slo": slo.__dict__, **body}
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False))


@dataclass(frozen=True)
class Event:
    """Something done to the system during the run, marked on the chart."""

    second: float
    label: str


def chart_over_time(samples: Samples, path: Path, title: str, events: list[Event]) -> None:
    """req/s and p50/p95/p99 for every second of the run."""
    start = min(samples.by_second, default=0)
    seconds = sorted(samples.by_second)
    x = [s - start for s in seconds]
    figure = Figure(figsize=(10, 6))
    pace, latency = figure.subplots(2, 1, sharex=True)
    pace.plot(x, [len(samples.by_second[s].durations) for s in seconds], color="tab:blue")
    pace.set_ylabel("requests / s")
    pace.set_ylim(bottom=0)
    for rank, color in ((50, "tab:green"), (95, "tab:orange"), (99, "tab:red")):
        values = [samples.by_second[s].percentiles(rank)[0] for s in seconds]
        latency.plot(x, values, label=f"p{rank}", color=color)
    latency.set_ylabel("latency (ms)")
    latency.set_xlabel("seconds into the run")
    latency.set_ylim(bottom=0)
    latency.legend(loc="upper right")
    # Shaded: the ramp and the tail, which are drawn but not timed in the figures.
    begin, end = samples.full_load
    for axes in (pace, latency):
        axes.grid(alpha=0.3)
        axes.axvspan(0, begin, color="grey", alpha=0.15)
        axes.axvspan(end, x[-1] if x else end, color="grey", alpha=0.15)
        for event in events:
            axes.axvline(event.second, color="black", linestyle="--", linewidth=1)
    if begin >= 1:
        pace.annotate("PCs arriving", (0, 0), xytext=(4, 4), textcoords="offset points")
    for event in events:
        pace.annotate(event.label, (event.second, 0), xytext=(4, 4), textcoords="offset points")
    pace.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def chart_capacity(steps: list[dict[str, Any]], path: Path, slo: Slo) -> None:
    """PCs against req/s (left axis) and p99 (right axis), each step marked met or missed."""
    pcs = [step["pcs"] for step in steps]
    figure = Figure(figsize=(10, 5))
    pace = figure.subplots()
    pace.plot(pcs, [s["total"]["req_per_s"] for s in steps], marker="o", color="tab:blue")
    pace.set_xlabel("PCs")
    pace.set_ylabel("requests / s", color="tab:blue")
    pace.set_ylim(bottom=0)
    tail = pace.twinx()
    tail.plot(pcs, [s["total"]["p99_ms"] for s in steps], marker="s", color="tab:red")
    tail.axhline(slo.p99_ms, color="tab:red", linestyle=":", linewidth=1)
    tail.set_ylabel("p99 (ms); dotted: the SLO", color="tab:red")
    tail.set_ylim(bottom=0)
    for step in steps:
        if not step["slo_met"]:
            pace.axvline(step["pcs"], color="grey", linestyle="--", linewidth=1)
            pace.annotate("SLO missed", (step["pcs"], 0), xytext=(4, 4), textcoords="offset points")
    pace.set_xscale("log")
    pace.set_xlim(min(pcs) / 1.5, max(pcs) * 1.5)  # margins, and a range even for one step
    pace.set_xticks(pcs, [str(n) for n in pcs])
    pace.grid(alpha=0.3)
    pace.set_title(f"capacity: {slo.describe()}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
