"""What ``fichas top`` shows, computed from fixed exposition texts (observability/scrape.py
parses them, observability/figures.py turns scrapes into figures): rates from counter increases
(restarts and new series included), the 5xx share, quantiles from the window's bucket increases,
processes, breakers, cache, refusals, backups; and the metric names are the code's own."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from observability.figures import History, quantile
from observability.metrics import DURATION_BUCKETS, build_metrics
from observability.scrape import Samples, Scrape, Target, parse, read_targets, scrape
from proxy.metrics import SupervisedProcesses

BOUNDS = (0.005, 0.01, 0.1, math.inf)


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def instance(
    requests: dict[tuple[str, str, str], float],
    durations: dict[tuple[str, str], tuple[float, float, float, float]] | None = None,
    *,
    in_flight: float = 0,
    shed: float = 0,
    timeouts: float = 0,
    rate_limited: float = 0,
    cache: dict[str, float] | None = None,
    breaker: str = "closed",
) -> str:
    """An instance's exposition: requests by (method, route, status); per (method, route) the
    cumulative counts of the buckets BOUNDS."""
    lines = ["# TYPE fichas_http_requests_total counter"]
    for (method, route, status), value in requests.items():
        labels = _labels({"method": method, "route": route, "status": status})
        lines.append(f"fichas_http_requests_total{{{labels}}} {value}")
    lines.append("# TYPE fichas_http_request_duration_seconds histogram")
    for (method, route), counts in (durations or {}).items():
        for bound, count in zip(BOUNDS, counts, strict=True):
            le = "+Inf" if math.isinf(bound) else str(bound)
            labels = _labels({"le": le, "method": method, "route": route})
            lines.append(f"fichas_http_request_duration_seconds_bucket{{{labels}}} {count}")
        labels = _labels({"method": method, "route": route})
        lines.append(f"fichas_http_request_duration_seconds_count{{{labels}}} {counts[-1]}")
        lines.append(f"fichas_http_request_duration_seconds_sum{{{labels}}} 0.0")
    lines += [
        "# TYPE fichas_http_requests_in_flight gauge",
        f"fichas_http_requests_in_flight {in_flight}",
        "# TYPE fichas_load_shed_total counter",
        f"fichas_load_shed_total {shed}",
        "# TYPE fichas_request_timeouts_total counter",
        f"fichas_request_timeouts_total {timeouts}",
        "# TYPE fichas_rate_limited_total counter",
        f'fichas_rate_limited_total{{route="/clientes"}} {rate_limited}',
        "# TYPE fichas_circuit_breaker_state gauge",
    ]
    for state in ("closed", "open", "half_open"):
        value = 1.0 if state == breaker else 0.0
        lines.append(
            f'fichas_circuit_breaker_state{{breaker="database-write",state="{state}"}} {value}'
        )
    lines.append("# TYPE fichas_cache_requests_total counter")
    for result, value in (cache or {}).items():
        lines.append(f'fichas_cache_requests_total{{cache="clientes",result="{result}"}} {value}')
    return "\n".join(lines) + "\n"


def supervisor(
    up: dict[str, float],
    restarts: dict[str, float] | None = None,
    *,
    backup: float | None = 1_000_000.0,
    lag: float | None = 0.5,
    readable: float | None = 1.0,
) -> str:
    lines = ["# TYPE fichas_process_up gauge"]
    lines += [f'fichas_process_up{{process="{name}"}} {value}' for name, value in up.items()]
    lines.append("# TYPE fichas_process_restarts_total counter")
    for name, value in (restarts or dict.fromkeys(up, 0.0)).items():
        lines.append(f'fichas_process_restarts_total{{process="{name}"}} {value}')
    if backup is not None:
        lines.append(f"fichas_backup_last_success_timestamp_seconds {backup}")
    lines += ["fichas_backup_interval_seconds 3600.0", "fichas_backup_failures_total 0.0"]
    if readable is not None:
        lines.append(f"fichas_replica_readable {readable}")
    if lag is not None:
        lines.append(f"fichas_replication_lag_seconds {lag}")
    return "\n".join(lines) + "\n"


UP = {"api-1": 1.0, "api-2": 1.0, "caddy": 1.0, "litestream": 1.0}


def at(
    seconds: float,
    instances: Mapping[str, str | None],
    supervisor_text: str | None = None,
    wall: float = 1_000_100.0,
) -> Scrape:
    parsed: dict[str, Samples | None] = {
        name: None if text is None else parse(text) for name, text in instances.items()
    }
    return Scrape(
        seconds, wall, parsed, None if supervisor_text is None else parse(supervisor_text)
    )


def figures_of(*scrapes: Scrape, window: float = 10.0) -> History:
    history = History(window=window, span=60)
    for s in scrapes:
        history.add(s)
    return history


def test_requests_per_second_and_5xx_share_by_route_summed_over_instances() -> None:
    before = {
        "api-1": instance({("GET", "/clientes", "200"): 100, ("POST", "/pedidos", "201"): 10}),
        "api-2": instance({("GET", "/clientes", "200"): 300, ("GET", "/clientes", "404"): 7}),
    }
    after = {
        "api-1": instance(
            {
                ("GET", "/clientes", "200"): 600,
                ("GET", "/clientes", "503"): 5,  # a series new since: it counted from 0
                ("POST", "/pedidos", "201"): 30,
            }
        ),
        "api-2": instance({("GET", "/clientes", "200"): 780, ("GET", "/clientes", "404"): 17}),
    }
    figures = figures_of(at(100, before, supervisor(UP)), at(110, after, supervisor(UP))).figures()
    assert figures.seconds == 10
    clientes, pedidos = figures.routes  # busiest first
    assert (clientes.method, clientes.route) == ("GET", "/clientes")
    # 500 + 5 on api-1, 480 + 10 on api-2, over 10 s
    assert clientes.per_second == pytest.approx(99.5)
    # Only the 5xx are errors: the 404s are answers (the client asked for what is not there).
    assert clientes.errors == pytest.approx(5 / 995)
    assert (pedidos.route, pedidos.per_second, pedidos.errors) == ("/pedidos", 2.0, 0.0)
    assert figures.per_second == pytest.approx(101.5)
    assert figures.errors == pytest.approx(5 / 1015)
    rates = {p.name: p.per_second for p in figures.processes}
    assert rates == {"api-1": 52.5, "api-2": 49.0, "caddy": None, "litestream": None}


def test_a_restarted_instance_counts_from_zero_again() -> None:
    before = {"api-1": instance({("GET", "/clientes", "200"): 5000})}
    after = {"api-1": instance({("GET", "/clientes", "200"): 40})}
    figures = figures_of(at(0, before), at(2, after)).figures()
    assert figures.routes[0].per_second == 20.0


def test_an_instance_that_did_not_answer_is_left_out_of_the_rates() -> None:
    before = {"api-1": instance({("GET", "/clientes", "200"): 0}), "api-2": None}
    after = {
        "api-1": instance({("GET", "/clientes", "200"): 10}),
        "api-2": instance({("GET", "/clientes", "200"): 9999}),
    }
    figures = figures_of(at(0, before), at(1, after)).figures()
    assert figures.per_second == 10.0
    # Without the supervisor, "up" is whether it answered.
    processes = {p.name: p for p in figures.processes}
    assert processes["api-1"].per_second == 10.0
    assert processes["api-2"].per_second is None
    assert processes["api-2"].up
    assert not figures.supervisor_answered


def test_quantiles_interpolate_within_the_bucket_as_histogram_quantile() -> None:
    buckets = [(0.005, 0.0), (0.01, 50.0), (0.1, 100.0), (math.inf, 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.25, buckets) == pytest.approx(0.0075)  # halfway through (0.005, 0.01]
    assert quantile(0.99, buckets) == pytest.approx(0.01 + 0.09 * 49 / 50)
    # In the first bucket: from 0.
    assert quantile(0.5, [(0.01, 10.0), (math.inf, 10.0)]) == pytest.approx(0.005)
    # In +Inf: the highest finite bound, as Prometheus answers.
    assert quantile(0.99, [(0.01, 10.0), (math.inf, 20.0)]) == 0.01
    assert quantile(0.5, [(0.01, 0.0), (math.inf, 0.0)]) is None


def test_latency_is_the_windows_alone_not_since_the_start() -> None:
    # 1000 fast requests before; in the window, 100 requests all between 10 and 100 ms.
    route = ("GET", "/pedidos")
    before = {"api-1": instance({(*route, "200"): 1000}, {route: (1000, 1000, 1000, 1000)})}
    after = {"api-1": instance({(*route, "200"): 1100}, {route: (1000, 1000, 1100, 1100)})}
    (pedidos,) = figures_of(at(0, before), at(10, after)).figures().routes
    assert pedidos.p50 == pytest.approx(0.055)  # halfway through (0.01, 0.1]
    assert pedidos.p99 == pytest.approx(0.01 + 0.09 * 0.99)


def test_bucket_increases_sum_over_instances() -> None:
    route = ("GET", "/clientes")
    before = {
        "api-1": instance({(*route, "200"): 0}, {route: (0, 0, 0, 0)}),
        "api-2": instance({(*route, "200"): 0}, {route: (0, 0, 0, 0)}),
    }
    after = {
        "api-1": instance({(*route, "200"): 100}, {route: (100, 100, 100, 100)}),
        "api-2": instance({(*route, "200"): 100}, {route: (0, 0, 100, 100)}),
    }
    (clientes,) = figures_of(at(0, before), at(1, after)).figures().routes
    assert clientes.p50 == pytest.approx(0.005)  # the 100th of 200: the top of the first bucket
    assert clientes.p99 == pytest.approx(0.01 + 0.09 * 98 / 100)


def test_rates_cover_the_last_window_of_scrapes() -> None:
    history = History(window=10, span=60)
    for second in range(31):
        # 10 req/s for 20 s, then 50 req/s
        count = 10 * min(second, 20) + 50 * max(0, second - 20)
        history.add(at(second, {"api-1": instance({("GET", "/clientes", "200"): count})}))
    figures = history.figures(points=6)
    assert figures.seconds == 10
    assert figures.per_second == 50.0
    # The sparkline: six slices of 10 s each, the first three before any scrape.
    assert figures.history == [None, None, None, 10.0, 10.0, 50.0]


def test_one_scrape_has_no_rates_yet() -> None:
    figures = figures_of(at(0, {"api-1": instance({})}, supervisor(UP))).figures()
    assert figures.seconds == 0
    assert figures.per_second is None
    assert figures.routes == []
    assert figures.rate_limited is None
    assert [p.up for p in figures.processes] == [True] * 4


def test_processes_breakers_cache_refusals_backups() -> None:
    restarts = {"api-1": 0.0, "api-2": 3.0, "caddy": 0.0, "litestream": 1.0}
    before = {
        "api-1": instance({}, cache={"hit": 0, "miss": 0, "bypass": 0}),
        "api-2": instance({}, shed=10, timeouts=1),
    }
    after = {
        "api-1": instance(
            {}, in_flight=4, rate_limited=20, cache={"hit": 90, "miss": 8, "bypass": 2}
        ),
        "api-2": instance({}, shed=30, timeouts=1, breaker="open"),
    }
    down = {**UP, "litestream": 0.0}
    text = supervisor(down, restarts, backup=1_000_000.0, lag=2.5)
    figures = figures_of(at(0, before, text), at(10, after, text, wall=1_000_090.0)).figures()
    processes = {p.name: p for p in figures.processes}
    assert list(processes) == ["api-1", "api-2", "caddy", "litestream"]
    assert [p.instance for p in processes.values()] == [True, True, False, False]
    assert processes["api-1"].in_flight == 4
    assert processes["api-2"].restarts == 3
    assert processes["caddy"].in_flight is None
    assert not processes["litestream"].up
    assert figures.breakers == ["database-write open on api-2"]
    assert figures.cache_hit_ratio == pytest.approx(0.9)  # a bypass is a read not served
    assert figures.rate_limited == 2.0
    assert figures.shed == 2.0
    assert figures.timeouts == 0.0
    assert figures.backup_age == 90.0
    assert figures.backup_interval == 3600.0
    assert figures.replication_lag == 2.5
    assert figures.replica_readable is True


def test_without_an_instance_answering_the_rates_are_not_known() -> None:
    figures = figures_of(at(0, {"api-1": None}), at(1, {"api-1": None})).figures()
    assert (figures.per_second, figures.rate_limited, figures.shed) == (None, None, None)
    assert figures.routes == []
    assert [(p.name, p.up, p.per_second) for p in figures.processes] == [("api-1", False, None)]


def test_before_the_first_backup_and_without_replication() -> None:
    text = supervisor(UP, backup=None, lag=None, readable=None)
    figures = figures_of(at(0, {}, text)).figures()
    assert figures.backup_age is None
    assert figures.replica_readable is None
    assert figures.replication_lag is None
    assert figures.cache_hit_ratio is None


def test_the_names_are_those_the_instances_and_the_supervisor_export() -> None:
    """From the code's own registries, not from texts written here."""

    def exposition(requests: int, slow: int) -> str:
        metrics = build_metrics("api-1")
        for _ in range(requests):
            metrics.requests.labels("GET", "/clientes", "200").inc()
            metrics.request_duration.labels("GET", "/clientes").observe(0.002)
        for _ in range(slow):
            metrics.requests.labels("GET", "/clientes", "500").inc()
            metrics.request_duration.labels("GET", "/clientes").observe(0.4)
        metrics.in_flight.set(2)
        metrics.load_shed.inc(slow)
        metrics.rate_limited.labels("/clientes").inc(slow)
        metrics.cache_requests.labels("clientes", "hit").inc(requests)
        metrics.breaker_state.labels("database-read", "open").set(1)
        return generate_latest(metrics.registry).decode()

    class Child:
        def __init__(self, name: str, restarts: int) -> None:
            self.name, self.running, self.restarts, self.started_at = name, True, restarts, 0.0

    registry = CollectorRegistry()
    registry.register(SupervisedProcesses(lambda: [Child("api-1", 2), Child("caddy", 0)]))
    processes = generate_latest(registry).decode()
    old = at(0, {"api-1": exposition(0, 0)}, processes)
    new = at(2, {"api-1": exposition(98, 2)}, processes)
    figures = figures_of(old, new).figures()
    (clientes,) = figures.routes
    assert clientes.per_second == 50.0
    assert clientes.errors == pytest.approx(0.02)
    assert clientes.p50 is not None
    assert clientes.p50 <= DURATION_BUCKETS[1]
    assert clientes.p99 is not None
    assert 0.25 < clientes.p99 <= 0.5
    assert figures.shed == 1.0
    assert figures.rate_limited == 1.0
    assert figures.cache_hit_ratio == 1.0
    assert figures.breakers == ["database-read open on api-1"]
    api = figures.processes[0]
    assert (api.name, api.up, api.restarts, api.in_flight) == ("api-1", True, 2, 2.0)


@pytest.fixture
def served() -> Iterator[str]:
    """An instance's registry served on a free loopback port, as /metrics; its host:port."""
    metrics = build_metrics("api-1")
    metrics.requests.labels("GET", "/clientes", "200").inc(7)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_scrape_reads_the_file_sd_targets_and_asks_them_all(tmp_path: Path, served: str) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text(
        f"""[
          {{"targets": ["{served}"], "labels": {{"job": "fichas-api", "instance": "api-1"}}}},
          {{"targets": ["127.0.0.1:9"], "labels": {{"job": "fichas-api", "instance": "api-2"}}}},
          {{"targets": ["127.0.0.1:9"], "labels": {{"job": "caddy", "instance": "caddy"}}}}
        ]"""
    )
    found = read_targets(targets)
    assert found == [
        Target("fichas-api", "api-1", served),
        Target("fichas-api", "api-2", "127.0.0.1:9"),
    ]  # Caddy's is not read
    result = scrape(found, timeout=2)
    api_1 = result.instances["api-1"]
    assert api_1 is not None
    assert api_1["fichas_http_requests_total"] == {
        (("method", "GET"), ("route", "/clientes"), ("status", "200")): 7.0
    }
    assert result.instances["api-2"] is None  # nothing listens on the discard port
    assert result.supervisor is None
    assert read_targets(tmp_path / "absent.json") == []
