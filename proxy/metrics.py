"""The supervisor's own ``/metrics`` (loopback only): which processes run, and how often each was
restarted. The backup scheduler adds its metrics to the same registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class ProcessRecord(Protocol):
    """What the supervisor knows of one process (``proxy.supervisor.Child``); a protocol, so
    that the supervisor imports this module and not the other way round."""

    @property
    def name(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def restarts(self) -> int: ...
    @property
    def started_at(self) -> float: ...


class SupervisedProcesses(Collector):
    """Read at scrape time from the supervisor's own records, so they can never disagree."""

    def __init__(self, children: Callable[[], Iterable[ProcessRecord]]) -> None:
        self.children = children

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "fichas_process_up", "1 while the supervised process is running.", labels=["process"]
        )
        restarts = CounterMetricFamily(
            "fichas_process_restarts",
            "Times the supervisor started the process again (crashes and rolling restarts).",
            labels=["process"],
        )
        started = GaugeMetricFamily(
            "fichas_process_start_time_seconds",
            "When the process was last started, in seconds since the epoch.",
            labels=["process"],
        )
        for child in self.children():
            up.add_metric([child.name], 1.0 if child.running else 0.0)
            restarts.add_metric([child.name], child.restarts)
            started.add_metric([child.name], child.started_at)
        yield from (up, restarts, started)


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve ``registry`` on ``host``:``port`` from a thread; ``shutdown()`` the answer to stop."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
