"""From the last scrapes of a cluster (observability/scrape.py) to the figures ``fichas top``
shows — what the dashboards compute with PromQL, computed here over the scrapes kept in memory:

- per route: requests per second, the share answered 5xx (the SLO's errors: a 4xx is the
  client's mistake, a 429 or a 404 included, and counts as answered), p50 and p99;
- per instance: up, restarts, requests in flight and per second; breakers not closed;
- the cache's hit ratio (hits over every cached read, bypasses included, as the resilience
  dashboard), requests refused by a rate limit, shed, timed out, per second;
- the last backup's age, the replica's lag; total requests per second over the last minutes.

Rates and quantiles are over the last ``window`` seconds (10 by default): the increase of each
counter between the oldest scrape kept and the newest, per series, as Prometheus's ``rate``
(a value that went down is a restarted process: its counter started again from 0), summed over
the instances. Quantiles interpolate within the bucket holding the rank, as
``histogram_quantile`` over those increases.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from observability.scrape import Labels, Samples, Scrape

REQUESTS = "fichas_http_requests_total"
DURATION_BUCKETS = "fichas_http_request_duration_seconds_bucket"
IN_FLIGHT = "fichas_http_requests_in_flight"
BREAKER_STATE = "fichas_circuit_breaker_state"
CACHE_REQUESTS = "fichas_cache_requests_total"
RATE_LIMITED = "fichas_rate_limited_total"
LOAD_SHED = "fichas_load_shed_total"
TIMEOUTS = "fichas_request_timeouts_total"
PROCESS_UP = "fichas_process_up"
PROCESS_RESTARTS = "fichas_process_restarts_total"
BACKUP_LAST_SUCCESS = "fichas_backup_last_success_timestamp_seconds"
BACKUP_INTERVAL = "fichas_backup_interval_seconds"
BACKUP_FAILURES = "fichas_backup_failures_total"
REPLICA_READABLE = "fichas_replica_readable"
REPLICATION_LAG = "fichas_replication_lag_seconds"


@dataclass(frozen=True)
class Route:
    method: str
    route: str
    per_second: float
    errors: float  # the share answered 5xx, 0 to 1
    p50: float | None  # seconds; None without a timed request in the window
    p99: float | None


@dataclass(frozen=True)
class Process:
    name: str
    instance: bool  # an API instance (the others: Caddy, Litestream, the monitoring)
    up: bool
    restarts: int | None  # None: the supervisor did not answer
    in_flight: float | None  # an instance's; None for the other processes, or unscraped
    per_second: float | None


@dataclass(frozen=True)
class Figures:
    seconds: float  # what the rates cover: 0 until two scrapes are kept
    routes: list[Route]  # busiest first
    per_second: float | None
    errors: float | None
    processes: list[Process]
    breakers: list[str]  # "database-write open on api-1", for each breaker not closed
    cache_hit_ratio: float | None  # None: no cached read in the window (or no cache)
    rate_limited: float | None  # per second
    shed: float | None
    timeouts: float | None
    supervisor_answered: bool
    backup_age: float | None  # seconds since the last verified backup; None: none yet
    backup_interval: float | None
    backup_failures: float | None
    replica_readable: bool | None  # None: not replicating (or the supervisor did not answer)
    replication_lag: float | None
    history: list[float | None]  # requests per second, oldest first; None where not known


class History:
    """The scrapes of the last ``window`` seconds, and total requests per second of the last
    ``span`` seconds (for the sparkline), fed one scrape per refresh."""

    def __init__(self, window: float = 10.0, span: float = 300.0) -> None:
        self.window = window
        self.span = span
        self.scrapes: deque[Scrape] = deque()
        # (when, requests, seconds): each pair of consecutive scrapes' increase
        self.totals: deque[tuple[float, float, float]] = deque()

    def add(self, scrape: Scrape) -> None:
        if self.scrapes:
            previous = self.scrapes[-1]
            seconds = scrape.at - previous.at
            if seconds > 0:
                requests = sum(v for _, _, v in _increases(previous, scrape, REQUESTS))
                self.totals.append((scrape.at, requests, seconds))
        self.scrapes.append(scrape)
        # The oldest kept is the newest at least ``window`` seconds older than this one (or the
        # oldest there is): the rates cover just over the window.
        while len(self.scrapes) > 2 and scrape.at - self.scrapes[1].at >= self.window:
            self.scrapes.popleft()
        while self.totals and scrape.at - self.totals[0][0] > self.span:
            self.totals.popleft()

    def figures(self, points: int = 60) -> Figures:
        """The figures now; ``points``: how many the requests-per-second history has."""
        if not self.scrapes:
            raise ValueError("no scrape yet")
        old, new = self.scrapes[0], self.scrapes[-1]
        seconds = new.at - old.at
        # Rates need an instance that answered both scrapes: else they are not known (not 0).
        rated = seconds > 0 and any(
            samples is not None and old.instances.get(name) is not None
            for name, samples in new.instances.items()
        )
        supervisor = new.supervisor or {}

        def per_second(name: str) -> float | None:
            if not rated:
                return None
            return sum(v for _, _, v in _increases(old, new, name)) / seconds

        routes = _routes(old, new, seconds) if rated else []
        total = sum(r.per_second for r in routes)
        errors = sum(r.per_second * r.errors for r in routes) / total if total else None
        last_backup = _single(supervisor, BACKUP_LAST_SUCCESS)
        readable = _single(supervisor, REPLICA_READABLE)
        return Figures(
            seconds=seconds,
            routes=routes,
            per_second=total if rated else None,
            errors=errors,
            processes=_processes(old, new, seconds),
            breakers=_breakers(new),
            cache_hit_ratio=_hit_ratio(old, new) if rated else None,
            rate_limited=per_second(RATE_LIMITED),
            shed=per_second(LOAD_SHED),
            timeouts=per_second(TIMEOUTS),
            supervisor_answered=new.supervisor is not None,
            backup_age=None if last_backup is None else max(0.0, new.wall - last_backup),
            backup_interval=_single(supervisor, BACKUP_INTERVAL),
            backup_failures=_single(supervisor, BACKUP_FAILURES),
            replica_readable=None if readable is None else readable == 1,
            replication_lag=_single(supervisor, REPLICATION_LAG),
            history=self._history(new.at, points),
        )

    def _history(self, now: float, points: int) -> list[float | None]:
        """Requests per second in ``points`` equal slices of the last ``span`` seconds, each
        from the scrapes that ended in it; None for a slice no scrape ended in."""
        step = self.span / points
        requests = [0.0] * points
        seconds = [0.0] * points
        for at, count, elapsed in self.totals:
            slot = points - 1 - int((now - at) / step)
            if 0 <= slot < points:
                requests[slot] += count
                seconds[slot] += elapsed
        return [r / s if s else None for r, s in zip(requests, seconds, strict=True)]


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile(q, …)`` of cumulative ``(upper bound, count)`` buckets sorted by
    bound, ``+Inf`` last: linear within the bucket holding the rank (the first one from 0), the
    highest finite bound when the rank falls in ``+Inf``; None with nothing counted."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _increases(old: Scrape, new: Scrape, name: str) -> Iterator[tuple[str, Labels, float]]:
    """Each series' increase of counter ``name`` from ``old`` to ``new``, per instance answering
    in both. A series absent before had not counted yet (0); one that went down was restarted."""
    for instance, samples in new.instances.items():
        before = old.instances.get(instance)
        if samples is None or before is None:
            continue
        earlier = before.get(name, {})
        for labels, value in samples.get(name, {}).items():
            previous = earlier.get(labels, 0.0)
            yield instance, labels, value - previous if value >= previous else value


def _routes(old: Scrape, new: Scrape, seconds: float) -> list[Route]:
    answered: dict[tuple[str, str], float] = {}
    failed: dict[tuple[str, str], float] = {}
    for _, labels, increase in _increases(old, new, REQUESTS):
        label = dict(labels)
        key = (label["method"], label["route"])
        answered[key] = answered.get(key, 0.0) + increase
        if label["status"].startswith("5"):
            failed[key] = failed.get(key, 0.0) + increase
    buckets: dict[tuple[str, str], dict[float, float]] = {}
    for _, labels, increase in _increases(old, new, DURATION_BUCKETS):
        label = dict(labels)
        per_bound = buckets.setdefault((label["method"], label["route"]), {})
        bound = float(label["le"])
        per_bound[bound] = per_bound.get(bound, 0.0) + increase
    routes = []
    for key, count in answered.items():
        if count <= 0:
            continue
        cumulative = _monotonic(sorted(buckets.get(key, {}).items()))
        routes.append(
            Route(
                method=key[0],
                route=key[1],
                per_second=count / seconds,
                errors=failed.get(key, 0.0) / count,
                p50=quantile(0.5, cumulative),
                p99=quantile(0.99, cumulative),
            )
        )
    return sorted(routes, key=lambda r: (-r.per_second, r.route, r.method))


def _monotonic(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Cumulative counts never decrease; increases across a restart can make them seem to."""
    highest = 0.0
    fixed = []
    for bound, count in buckets:
        highest = max(highest, count)
        fixed.append((bound, highest))
    return fixed


def _processes(old: Scrape, new: Scrape, seconds: float) -> list[Process]:
    """Every process the supervisor runs (the instances alone, by whether they answered, when
    it does not answer itself)."""
    # The instances that answered both scrapes: their rates are known.
    rated = {
        name
        for name, samples in new.instances.items()
        if seconds > 0 and samples is not None and old.instances.get(name) is not None
    }
    per_instance = dict.fromkeys(rated, 0.0)
    for instance, _, increase in _increases(old, new, REQUESTS) if rated else ():
        per_instance[instance] += increase / seconds
    supervisor = new.supervisor
    if supervisor is None:
        running = {name: samples is not None for name, samples in new.instances.items()}
    else:
        states = _series(supervisor, PROCESS_UP)
        running = {_label(labels, "process"): value == 1 for labels, value in states}
    restarts = {
        _label(labels, "process"): int(v) for labels, v in _series(supervisor, PROCESS_RESTARTS)
    }
    processes = []
    for name, up in running.items():
        samples = new.instances.get(name)
        in_flight = _single(samples, IN_FLIGHT) if samples is not None else None
        processes.append(
            Process(
                name=name,
                instance=name in new.instances,
                up=up,
                restarts=restarts.get(name),
                in_flight=in_flight,
                per_second=per_instance.get(name),
            )
        )
    return processes


def _breakers(new: Scrape) -> list[str]:
    found = []
    for instance, samples in sorted(new.instances.items()):
        for labels, value in _series(samples, BREAKER_STATE):
            state = _label(labels, "state")
            if value == 1 and state != "closed":
                found.append(f"{_label(labels, 'breaker')} {state} on {instance}")
    return found


def _hit_ratio(old: Scrape, new: Scrape) -> float | None:
    hits = reads = 0.0
    for _, labels, increase in _increases(old, new, CACHE_REQUESTS):
        reads += increase
        if _label(labels, "result") == "hit":
            hits += increase
    return hits / reads if reads else None


def _series(samples: Samples | None, name: str) -> Iterator[tuple[Labels, float]]:
    yield from (samples or {}).get(name, {}).items()


def _single(samples: Samples | None, name: str) -> float | None:
    """The value of an unlabelled metric; None when absent."""
    return (samples or {}).get(name, {}).get((), None)


def _label(labels: Labels, name: str) -> str:
    return dict(labels).get(name, "")
