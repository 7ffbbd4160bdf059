"""The load tests behind ``fichas loadtest``: ``pcs``, ``chaos``, ``hostile`` and ``capacity``.

Each runs the PC script (``scripts/pcs.js``) with k6 against a target — a cluster of its own on
free ports unless a URL is given — with a temporary API key, then prints the table and leaves
``summary.json`` and ``chart.png`` in the results folder. The exit status says whether the SLO
held (for ``capacity``: whether any step held it).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from loadtest import k6, report
from loadtest.attacker import Tally, attacking
from loadtest.target import Target, own_cluster, redis_server, temporary_keys

SCENARIOS = ("pcs", "chaos", "hostile", "capacity")
DEFAULT_STEPS = (15, 25, 50, 100, 200, 400, 800, 1000, 1200, 1600, 2000)
CHAOS_VICTIM = "api-1"


@dataclass(frozen=True)
class Plan:
    scenario: str
    pcs: int
    seconds: float  # per run; for capacity, per step
    think: float
    slo: k6.Slo
    results: Path
    steps: tuple[int, ...] = DEFAULT_STEPS
    target_url: str | None = None
    admin_key: str | None = None
    instances: int = 3
    redis: bool = False  # own cluster: with a Redis of its own (chaos then stops it too)
    database_url: str | None = None  # own cluster: on this database, not a fresh SQLite file


def run(plan: Plan) -> int:
    """Run the plan's scenario; 0 when the SLO held, 1 when it did not."""
    plan.results.mkdir(parents=True, exist_ok=True)
    print(f"fichas loadtest {plan.scenario}: SLO {plan.slo.describe()}; results in {plan.results}")
    with _target(plan) as target:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        most = max(plan.steps) if plan.scenario == "capacity" else plan.pcs
        with temporary_keys(target, f"loadtest-{plan.scenario}-{stamp}", most) as tokens:
            if plan.scenario == "capacity":
                return _capacity(plan, target, tokens)
            return _steady(plan, target, tokens)


@contextmanager
def _target(plan: Plan) -> Iterator[Target]:
    if plan.target_url is not None:
        yield Target(plan.target_url.rstrip("/"), plan.admin_key or "")
        return
    with tempfile.TemporaryDirectory(prefix="fichas-loadtest-") as data_dir, ExitStack() as stack:
        redis = None
        if plan.redis:
            redis = stack.enter_context(redis_server(Path(data_dir)))
        where = "" if plan.database_url is None else f" in {_without_password(plan.database_url)}"
        with_redis = f", Redis on {redis.url}" if redis else ""
        print(
            f"starting {plan.instances} instances on demo data{where}{with_redis} ...", flush=True
        )
        log = plan.results / "cluster.log"
        target = stack.enter_context(
            own_cluster(Path(data_dir), plan.instances, log, redis, plan.database_url)
        )
        print(f"cluster up on {target.url}", flush=True)
        yield target


def _without_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _steady(plan: Plan, target: Target, tokens: list[str]) -> int:
    """``pcs``: the load for the whole duration; ``chaos``: the same, with an instance
    killed (``kill -9``) halfway — or, with a Redis, an instance killed at a quarter, Redis
    killed at half and started again at three quarters; ``hostile``: the same, with an
    attacker beside the PCs the whole time (loadtest/attacker.py)."""
    load = k6.Load(target.url, tokens, plan.pcs, plan.seconds, plan.think)
    events: list[tuple[float, str]] = []
    with (
        attacking(target.url if plan.scenario == "hostile" else None) as tally,
        k6.running(load, plan.slo, plan.results, k6.Progress(plan.scenario)) as finish,
    ):
        if plan.scenario == "chaos":
            _break(target, plan.seconds, events)
        result = finish()
    verdict = _conclude(plan, result, events)
    return verdict if tally is None else max(verdict, _judge_attacks(tally))


def _judge_attacks(tally: Tally) -> int:
    """What the attacker got back, per attack; 1 if anything it sent was answered 5xx."""
    print(f"attacker: {tally.sent:,} requests")
    for attack, statuses in sorted(tally.answers.items()):
        answers = ", ".join(f"{status} ×{count}" for status, count in statuses.most_common())
        print(f"  {attack:<20} {answers}")
    if errors := tally.server_errors():
        print(f"SERVER ERRORS for the attacker: {errors}")
        return 1
    return 0


def _break(target: Target, seconds: float, events: list[tuple[float, str]]) -> None:
    def at(fraction: float, label: str) -> None:
        time.sleep(max(0.0, started + seconds * fraction - time.monotonic()))
        events.append((time.time(), label))
        print(f"  chaos: {label}", flush=True)

    started = time.monotonic()
    victim = target.instance_pids()[CHAOS_VICTIM]
    if target.redis is None:
        at(0.5, f"kill -9 {CHAOS_VICTIM}")
        os.kill(victim, signal.SIGKILL)
        return
    at(0.25, f"kill -9 {CHAOS_VICTIM}")
    os.kill(victim, signal.SIGKILL)
    at(0.5, "kill -9 redis")
    target.redis.kill()
    at(0.75, "redis started")
    target.redis.start()


def _conclude(plan: Plan, result: k6.Run, events: list[tuple[float, str]]) -> int:
    if not result.samples.by_second:
        print(f"k6 made no request (exit status {result.exit_code}); see {plan.results}/k6.log")
        return 2
    start = min(result.samples.by_second)
    marks = [report.Event(when - start, label) for when, label in events]
    figures = report.run_figures(result)
    print(report.table(figures))
    report.write_summary(
        plan.results / "summary.json",
        plan.scenario,
        plan.slo,
        {**figures, "events": [m.__dict__ for m in marks]},
    )
    title = f"{plan.scenario}: {plan.pcs} PCs, think {plan.think:g} s"
    report.chart_over_time(result.samples, plan.results / "chart.png", title, marks, plan.slo)
    return _verdict(result)


def _verdict(result: k6.Run) -> int:
    if result.slo_met:
        print("SLO met")
        return 0
    if result.exit_code != k6.THRESHOLDS_FAILED:
        print(f"k6 failed (exit status {result.exit_code}); see k6.log in the results folder")
        return 2
    print("SLO MISSED: " + "; ".join(result.broken_thresholds))
    return 1


def _capacity(plan: Plan, target: Target, tokens: list[str]) -> int:
    """Step the number of PCs up until a step misses the SLO (or the steps run out)."""
    steps: list[dict[str, Any]] = []
    for pcs in plan.steps:
        load = k6.Load(target.url, tokens, pcs, plan.seconds, plan.think)
        progress = k6.Progress(f"{pcs:>5} PCs", every=10)
        with k6.running(load, plan.slo, plan.results / f"step-{pcs}", progress) as finish:
            result = finish()
        if result.exit_code not in (0, k6.THRESHOLDS_FAILED):
            return _verdict(result)
        figures = report.run_figures(result)
        steps.append(figures)
        total = figures["total"]
        print(
            f"{pcs:>5} PCs: {total['req_per_s']:>8,.1f} req/s  success {total['success_pct']:.2f} %"
            f"  p95 {total['p95_ms']:.1f} ms  p99 {total['p99_ms']:.1f} ms  "
            f"{'SLO met' if result.slo_met else 'SLO missed'}",
            flush=True,
        )
        if not result.slo_met:
            break
    at_slo = max((s["pcs"] for s in steps if s["slo_met"]), default=0)
    print(f"{at_slo} PCs at SLO (think {plan.think:g} s)")
    report.write_summary(
        plan.results / "summary.json", "capacity", plan.slo, {"pcs_at_slo": at_slo, "steps": steps}
    )
    report.chart_capacity(steps, plan.results / "chart.png", plan.slo)
    return 0 if at_slo else 1
