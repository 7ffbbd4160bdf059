"""What a load test leaves behind: the table on the terminal (in the old system's format, so the
two can be compared line by line), ``summary.json`` and a PNG chart."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from math import isfinite, isnan, nan
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure  # the object API: no pyplot state, no screen needed

from loadtest.k6 import Run, Slo
from loadtest.samples import Samples, Tally


def _figures(tally: Tally) -> dict[str, float]:
    avg = sum(tally.durations) / len(tally.durations) if tally.durations else 0.0
    p50, p95, p99 = tally.percentiles(50, 95, 99)
    return {
        "requests": len(tally.durations),  # timed: at full load
        "answered_right": tally.answered,  # in every phase: the ramp and the tail too
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
        "wrong": _wrong_answers(samples),
    }


def _wrong_answers(samples: Samples) -> list[dict[str, Any]]:
    """The requests answered wrong, by endpoint and why, each group with when its first came
    (seconds on the chart's clock, as the chaos events are): the commonest first, then the
    earliest."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for wrong in samples.wrong:
        groups[wrong.endpoint, wrong.why].append(wrong.ms)
    start = min(samples.by_second, default=0) * 1000
    listed = [
        {"endpoint": endpoint, "why": why, "count": len(ms), "first_s": (min(ms) - start) / 1000}
        for (endpoint, why), ms in groups.items()
    ]
    return sorted(listed, key=lambda group: (-group["count"], group["first_s"]))


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
    lines += [
        f"answered wrong: {wrong['endpoint']}: {wrong['count']:,} × {wrong['why']}, "
        f"first at {wrong['first_s']:.1f} s"
        for wrong in figures["wrong"]
    ]
    return "\n".join(lines)


def write_summary(path: Path, scenario: str, slo: Slo, body: dict[str, Any]) -> None:
    content = {"scenario": scenario, "slo": slo.__dict__, **body}
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False))


SHADE, HATCH = (0.5, 0.5, 0.5, 0.15), (0.5, 0.5, 0.5, 0.5)  # the ramp and the tail
PERCENTILES = {50: "tab:green", 95: "tab:orange", 99: "tab:red"}  # drawn, in these colours


@dataclass(frozen=True)
class Event:
    """Something done to the system during the run, marked on the chart."""

    second: float
    label: str


def chart_over_time(
    samples: Samples, path: Path, title: str, events: list[Event], slo: Slo
) -> Figure:
    """req/s, p50/p95/p99 and the % answered wrong for every full second of the run (the first
    and last, partial, are left out: ``Samples.full_seconds``), with the SLO's bounds; the ramp
    and the tail shaded, the events marked. Returns the figure saved."""
    # x: seconds from the start of the run's first clock second, as the events are; each
    # second is drawn at its middle, and a second without requests breaks the lines.
    start = min(samples.by_second, default=0)
    seconds = samples.full_seconds
    tallies = [samples.by_second.get(s, Tally()) for s in seconds]
    x = [s - start + 0.5 for s in seconds]
    figure, (pace, latency, errors) = _panels(title)
    pace.plot(x, [len(t.durations) for t in tallies], color="tab:blue", label="requests / s")
    _latency_panel(
        latency, x, [t.percentiles(50, 95, 99) if t.durations else [nan] * 3 for t in tallies], slo
    )
    _errors_panel(
        errors, x, [100 - t.success if t.answered + t.wrong else nan for t in tallies], slo
    )
    errors.set_xlabel("seconds into the run")
    if seconds:
        low, high = seconds[0] - start, seconds[-1] + 1 - start
        errors.set_xlim(low, high)
        # The ramp and the tail: drawn, and counted in the success rate, but not timed.
        offset = (samples.first_ms or 0) / 1000 - start
        begin, end = (t + offset for t in samples.full_load)
        spans = [
            (offset, begin, "ramp: PCs arriving", None),
            (end, samples.seconds + offset, "tail: sessions finishing", "//"),
        ]
        for since, until, label, hatch in spans:
            since, until = max(since, low), min(until, high)
            for axes in (pace, latency, errors) if until > since else ():
                shown = label if axes is pace else f"_{label}"  # in the top panel's legend
                axes.axvspan(
                    since, until, facecolor=SHADE, edgecolor=HATCH, hatch=hatch, lw=0, label=shown
                )
    for event in events:
        for axes in (pace, latency, errors):
            axes.axvline(event.second, color="black", linestyle="--", linewidth=1)
        pace.annotate(event.label, (event.second, 0), xytext=(4, 4), textcoords="offset points")
    return _save(figure, path)


def chart_capacity(steps: list[dict[str, Any]], path: Path, slo: Slo) -> Figure:
    """Per step, against its PCs (log scale): req/s, p50/p95/p99 with the SLO's bounds, and the
    % answered wrong with the SLO's allowance; the steps that missed the SLO marked. A point is
    its step's figures as a whole (latency and pace of the full load), not per second, so no
    partial second enters it. Returns the figure saved."""
    pcs = [step["pcs"] for step in steps]
    totals = [step["total"] for step in steps]
    figure, (pace, latency, errors) = _panels(f"capacity: {slo.describe()}")
    pace.plot(pcs, [t["req_per_s"] for t in totals], "o-", color="tab:blue", label="requests / s")
    latencies = [[t["p50_ms"], t["p95_ms"], t["p99_ms"]] for t in totals]
    _latency_panel(latency, pcs, latencies, slo, marker="o")
    _errors_panel(errors, pcs, [100 - t["success_pct"] for t in totals], slo, marker="o")
    missed = [step["pcs"] for step in steps if not step["slo_met"]]
    for axes in (pace, latency, errors):
        for n, at in enumerate(missed):
            shown = "missed the SLO" if axes is pace and n == 0 else "_missed"  # in one legend
            axes.axvline(at, color="grey", linestyle="--", linewidth=1, label=shown)
    errors.set_xscale("log")
    errors.set_xlim(min(pcs) / 1.5, max(pcs) * 1.5)  # margins, and a range even for one step
    errors.set_xticks(pcs, [str(n) for n in pcs])
    errors.minorticks_off()
    errors.set_xlabel("PCs")
    return _save(figure, path)


def _panels(title: str) -> tuple[Figure, tuple[Axes, Axes, Axes]]:
    """The charts' three panels, one above the other on a shared x axis: pace, latency,
    errors."""
    figure = Figure(figsize=(11, 8))
    # Fixed margins, with room on the right for the legends: the panels line up, and no layout
    # engine doubles the drawing time.
    figure.subplots_adjust(left=0.07, right=0.83, bottom=0.07, top=0.95, hspace=0.08)
    pace, latency, errors = figure.subplots(3, 1, sharex=True, height_ratios=(2, 3, 2))
    pace.set_ylabel("requests / s")
    pace.set_title(title)
    for axes in (pace, latency, errors):
        axes.grid(alpha=0.3)
    return figure, (pace, latency, errors)


def _latency_panel(
    axes: Axes,
    x: Sequence[float],
    latencies: Sequence[Sequence[float]],
    slo: Slo,
    marker: str = "",
) -> None:
    """p50, p95 and p99 (``latencies``: one triple per x), and the SLO's p95 and p99 bounds,
    dashed in their percentile's colour."""
    for column, (rank, color) in enumerate(PERCENTILES.items()):
        axes.plot(
            x, [row[column] for row in latencies], marker=marker, label=f"p{rank}", color=color
        )
    for rank, bound in ((95, slo.p95_ms), (99, slo.p99_ms)):
        label = f"SLO p{rank} {bound:g} ms"
        axes.axhline(bound, color=PERCENTILES[rank], linestyle="--", label=label)
    axes.set_ylabel("latency (ms)")


def _errors_panel(
    axes: Axes, x: Sequence[float], failed: Sequence[float], slo: Slo, marker: str = ""
) -> None:
    """The % of requests answered wrong (one per x), and the SLO's allowance, if it allows any."""
    # Not clipped: at 0, the line is drawn over the axis rather than hidden behind it.
    axes.plot(x, failed, marker=marker, color="tab:purple", label="answered wrong", clip_on=False)
    allowed = 100 - slo.success
    if allowed > 0:
        axes.axhline(allowed, color="tab:purple", linestyle="--", label=f"SLO allows {allowed:g} %")
    # Room above the allowance, and a scale even when nothing failed.
    axes.set_ylim(0, max([f for f in failed if not isnan(f)] + [allowed * 2, 0.1]) * 1.15)
    axes.set_ylabel("answered wrong (%)")


def _save(figure: Figure, path: Path) -> Figure:
    """Every panel from 0 to a little over its highest point, its legend to its right (outside
    the data); saved."""
    for axes in figure.axes:
        if axes.get_autoscaley_on():  # the errors panel has set its own
            highest = axes.dataLim.y1  # lines and SLO bounds; -inf when nothing was drawn
            axes.set_ylim(0, highest * 1.08 if isfinite(highest) else None)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    figure.savefig(path, dpi=100)
    return figure
