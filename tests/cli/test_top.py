"""``fichas top`` without a terminal: what it says with no cluster, one frame of a cluster whose
/metrics are served here (in-process), and a crowded frame kept within 80×24. The live view in a
real terminal, against a real cluster: tests/integration/test_top.py."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from rich.console import Console

from fichas.cli import build_parser, main
from fichas.cli.top import frame
from observability.figures import Figures, Process, Route
from observability.metrics import build_metrics
from proxy.metrics import SupervisedProcesses


def test_without_a_cluster_it_says_how_to_start_one(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["top"]) == 1
    err = capsys.readouterr().err
    assert "no cluster is running here" in err
    assert "`fichas up`" in err


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf", "soon"])
def test_the_interval_is_a_sensible_number_of_seconds(
    interval: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["top", "--interval", interval])
    assert "seconds from 0.1 to 3600" in capsys.readouterr().err


class Arrivals(Collector):
    """Three requests arrive between two scrapes."""

    def __init__(self, requests: Counter) -> None:
        self.requests = requests

    def collect(self) -> Iterator[Metric]:
        self.requests.inc(3)
        yield from ()


class Child:
    def __init__(self, name: str, restarts: int = 0) -> None:
        self.name, self.running, self.restarts, self.started_at = name, True, restarts, 0.0


@pytest.fixture
def cluster(data_dir: Path) -> Iterator[Path]:
    """The files ``fichas up`` writes, for an instance and a supervisor served in-process."""
    metrics = build_metrics("api-1")
    metrics.registry.register(Arrivals(metrics.requests.labels("GET", "/clientes", "200")))
    supervisor = CollectorRegistry()
    supervisor.register(SupervisedProcesses(lambda: [Child("api-1", 1), Child("caddy")]))
    servers = []
    groups = []
    for job, name, registry in (
        ("fichas-api", "api-1", metrics.registry),
        ("fichas-supervisor", "supervisor", supervisor),
    ):
        server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        servers.append((server, thread))
        address = f"127.0.0.1:{server.server_port}"
        groups.append({"targets": [address], "labels": {"job": job, "instance": name}})
    directory = data_dir / "cluster"
    directory.mkdir()
    (directory / "targets.json").write_text(json.dumps(groups))
    (directory / "status.json").write_text(json.dumps({"url": "http://127.0.0.1:8080"}))
    try:
        yield directory
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join()


def test_once_prints_one_frame_of_the_clusters_figures(
    cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["top", "--once", "--interval", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8080" in out
    assert "q quits" not in out  # there is no key to press
    (clientes,) = [line for line in out.splitlines() if "/clientes" in line]
    assert clientes.split()[:2] == ["GET", "/clientes"]
    assert float(clientes.split()[2]) > 0
    (api,) = [line for line in out.splitlines() if line.startswith("api-1")]
    assert api.split()[1:3] == ["up", "1"]  # up, restarted once
    assert "caddy up" in out
    assert "not replicating" in out  # the supervisor's registry here has no replica


def crowded() -> Figures:
    routes = [
        Route("GET", f"/pedidos/{{id:id}}/eventos/{n}", 100.0 - n, 0.02 * (n % 2), 0.004, 0.3)
        for n in range(20)
    ]
    processes = [Process(f"api-{n}", True, True, n, 3.0, 100.0) for n in range(1, 5)] + [
        Process(name, False, name == "litestream", 2, None, None)
        for name in ("caddy", "litestream")
    ]
    return Figures(
        seconds=10.0,
        routes=routes,
        per_second=sum(r.per_second for r in routes),
        errors=0.01,
        processes=processes,
        breakers=["database-write open on api-1", "database-read half_open on api-3"],
        cache_hit_ratio=0.931,
        rate_limited=1.5,
        shed=0.0,
        timeouts=0.2,
        supervisor_answered=True,
        backup_age=9000.0,
        backup_interval=3600.0,
        backup_failures=2.0,
        replica_readable=True,
        replication_lag=45.0,
        history=[None] * 20 + [float(n) for n in range(36)],
    )


def test_a_crowded_frame_fits_80_by_24() -> None:
    console = Console(width=80, height=24, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(frame(crowded(), "http://127.0.0.1:8080  12:00:00", 80, 24, "q quits"))
    lines = captured.get().splitlines()
    assert len(lines) == 24
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("fichas top  http://127.0.0.1:8080")
    # The busiest routes that fit, and how many more there are.
    assert "GET    /pedidos/{id:id}/eventos/0" in lines[3]
    assert any("14 more routes" in line for line in lines)
    assert [line.split()[:2] for line in lines if line.startswith("api-")] == [
        [f"api-{n}", "up"] for n in range(1, 5)
    ]
    text = "\n".join(lines)
    assert "caddy down (2 restarts) · litestream up (2 restarts)" in text
    assert "database-write open on api-1" in text
    assert "93.1%" in text
    assert "2h30m ago (every 1h00m), 2 failed" in text
    assert "45.0 s behind" in text
    assert "▁" in lines[-1]
    assert "█" in lines[-1]
