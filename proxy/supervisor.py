"""Runs the cluster's processes and keeps them running.

A small asyncio supervisor rather than a process manager (supervisord, circus): it has to start
processes in an order, drain them in another, restart instances one at a time and write what it
runs for ``fichas status`` — all easier to say in a few hundred lines of Python here than in a
manager's configuration.

- a process that dies unasked is restarted after a backoff (0.5 s, doubling, at most 10 s);
  after ``crash_limit`` deaths within ``crash_window`` seconds the supervisor gives up: it stops
  everything and exits non-zero;
- SIGTERM/SIGINT stop the proxy first (it stops accepting and lets requests in flight finish),
  then the instances (each drains the same way);
- on a multi-host cluster's hosts (``fichas up --role``) it runs only one side: an app host's
  instances (no proxy), or a front host's proxy (no instance);
- SIGHUP restarts the instances one at a time, each healthy again before the next;
- companions (Litestream, replicating the database; Prometheus and Alertmanager under
  ``--observability``) start once the cluster is up and stop last, so Litestream ships the
  instances' last writes; one that keeps crashing is given up on (its alert fires), the cluster
  serves on;
- background jobs (the backup scheduler) run beside the processes once they are up, until the
  stop.

It serves its own ``/metrics`` on loopback and writes, beside the status file, a Prometheus
file-SD targets file listing every process it runs that has metrics, and itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from fichas.processes import HEALTHY, probe
from proxy.metrics import SupervisedProcesses, serve_metrics

log = logging.getLogger("fichas.supervisor")


@dataclass(frozen=True)
class ScrapeTarget:
    """Where Prometheus finds a process's metrics (path /metrics), and the job it belongs to."""

    job: str
    address: str  # host:port


@dataclass
class Child:
    """One supervised process: what starts it, and what became of it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str | None = None
    scrape: ScrapeTarget | None = None
    # Where a person reaches it (Caddy: the public listener; Prometheus, Alertmanager: their
    # pages); None for what only the supervisor talks to (an instance's port is internal).
    url: str | None = None
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    restarts: int = 0
    planned_stop: bool = False  # set by a rolling restart: the next exit is not a crash
    crashes: deque[float] = field(default_factory=deque)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(*self.argv, env=self.env)
        self.started_at = time.time()
        log.info("%s started (pid %d)", self.name, self.process.pid)

    async def stop(self, timeout: float) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            log.warning("%s did not stop within %.0f s; killing it", self.name, timeout)
            process.kill()
            await process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def healthy(self) -> bool:
        if self.health_url is None:
            return self.running
        return probe(self.health_url) == HEALTHY

    async def wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self.healthy):
                return True
            await asyncio.sleep(0.1)
        return False

    def describe(self) -> dict[str, object]:
        pid = self.process.pid if self.process else None
        return {
            "name": self.name,
            "pid": pid,
            "health_url": self.health_url,
            "url": self.url,
            "started_at": self.started_at,
            "restarts": self.restarts,
        }


def targets_beside(status_path: Path) -> Path:
    """Where the supervisor writes Prometheus's file-SD targets: beside its status file."""
    return status_path.with_name("targets.json")


class Supervisor:
    def __init__(
        self,
        instances: list[Child],
        proxy: Child | None,
        status_path: Path,
        *,
        metrics_port: int | None = None,
        crash_limit: int = 5,
        crash_window: float = 60.0,
        drain_seconds: float = 15.0,
        background: Sequence[Callable[[], Coroutine[object, object, None]]] = (),
        companions: Sequence[Child] = (),
    ) -> None:
        self.instances = instances
        self.proxy = proxy
        # Processes beside the cluster (Litestream, Prometheus, Alertmanager): started once it
        # is up, stopped last, and never a reason to stop it.
        self.companions = list(companions)
        self.status_path = status_path
        self.metrics_port = metrics_port
        # Shared with what runs beside the supervisor (the backup scheduler adds its metrics).
        self.registry = CollectorRegistry()
        self.registry.register(SupervisedProcesses(lambda: self.children))
        self.crash_limit = crash_limit
        self.crash_window = crash_window
        self.drain_seconds = drain_seconds
        # Jobs that run beside the processes once they are up, until the stop (the backups).
        self.background = background
        self._stopping = asyncio.Event()
        self.started_at = time.time()
        self._failure: str | None = None
        self._rolling: asyncio.Task[None] | None = None

    @property
    def children(self) -> list[Child]:
        return [*self.instances, *self.serving, *self.companions]

    @property
    def serving(self) -> list[Child]:
        """What clients reach: the proxy; on an app host (no proxy), its instances."""
        return [self.proxy] if self.proxy is not None else self.instances

    @property
    def url(self) -> str:
        return ", ".join(str(child.url) for child in self.serving)

    @property
    def targets_path(self) -> Path:
        return targets_beside(self.status_path)

    async def run(self, ready: asyncio.Event | None = None) -> int:
        """Start everything, supervise until told to stop; the exit status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._rolling_restart)
        metrics = (
            None if self.metrics_port is None else serve_metrics(self.registry, self.metrics_port)
        )
        try:
            return await self._supervise(ready)
        finally:
            if metrics is not None:
                metrics.shutdown()
                metrics.server_close()

    async def _supervise(self, ready: asyncio.Event | None) -> int:
        for instance in self.instances:
            await instance.start()
        for n, instance in enumerate(self.instances, start=1):
            if not await instance.wait_healthy(60):
                self._failure = f"{instance.name} did not become healthy within 60 s"
                return await self._shutdown()
            log.info("%s healthy (%d/%d)", instance.name, n, len(self.instances))
        if self.proxy is not None:
            await self.proxy.start()
            if not await self.proxy.wait_healthy(30):
                self._failure = "the proxy did not come up within 30 s"
                return await self._shutdown()
        log.info("the cluster answers on %s", self.url)
        for companion in self.companions:
            await companion.start()
        for companion in self.companions:
            if await companion.wait_healthy(30):
                log.info("%s ready", companion.name)
            else:
                log.warning("%s is not ready after 30 s; the cluster runs on", companion.name)
        self._write_status()
        self._write_targets()
        if ready is not None:
            ready.set()
        watchers = [asyncio.create_task(self._watch(child)) for child in self.children]
        watchers += [asyncio.create_task(job()) for job in self.background]
        await self._stopping.wait()
        for watcher in watchers:
            watcher.cancel()
        return await self._shutdown()

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if self._stopping.is_set():
                return
            if child.planned_stop:
                child.planned_stop = False
            else:
                delay = self._crashed(child, code)
                if delay is None:
                    return
                await asyncio.sleep(delay)
                if self._stopping.is_set():
                    return
            child.restarts += 1
            await child.start()
            self._write_status()

    def _crashed(self, child: Child, code: int) -> float | None:
        """Record an unasked exit; the backoff before restarting, or None to give up."""
        now = time.monotonic()
        child.crashes.append(now)
        while child.crashes and child.crashes[0] < now - self.crash_window:
            child.crashes.popleft()
        if len(child.crashes) >= self.crash_limit:
            reason = (
                f"{child.name} died {len(child.crashes)} times within "
                f"{self.crash_window:.0f} s (last exit status {code}); giving up"
            )
            if child in self.companions:  # the cluster serves on without it
                log.error("%s; the cluster runs on without it", reason)
                return None
            self._failure = reason
            log.error(reason)
            self._stopping.set()
            return None
        delay: float = min(0.5 * 2 ** (len(child.crashes) - 1), 10.0)
        log.warning("%s exited with status %s; restarting in %.1f s", child.name, code, delay)
        return delay

    def _rolling_restart(self) -> None:
        if self._rolling is None or self._rolling.done():
            self._rolling = asyncio.create_task(self._restart_instances())

    async def _restart_instances(self) -> None:
        log.info("rolling restart of %d instances", len(self.instances))
        for instance in self.instances:
            if self._stopping.is_set():
                return
            instance.planned_stop = True  # its watcher starts the new process at once
            await instance.stop(self.drain_seconds)
            if not await instance.wait_healthy(60):
                log.error("%s unhealthy after its restart; rolling restart stopped", instance.name)
                return
        log.info("rolling restart done")

    async def _shutdown(self) -> int:
        self._stopping.set()
        log.info("stopping: the proxy first, then the instances, then their companions")
        if self.proxy is not None:
            await self.proxy.stop(self.drain_seconds)
        await asyncio.gather(*(i.stop(self.drain_seconds) for i in self.instances))
        await asyncio.gather(*(o.stop(self.drain_seconds) for o in self.companions))
        self.status_path.unlink(missing_ok=True)
        if self._failure:
            log.error("stopped: %s", self._failure)
            return 1
        log.info("stopped")
        return 0

    def _write_status(self) -> None:
        metrics_url = (
            None if self.metrics_port is None else f"http://127.0.0.1:{self.metrics_port}/metrics"
        )
        status = {
            "url": self.url,
            "supervisor_pid": os.getpid(),
            "started_at": self.started_at,
            "metrics_url": metrics_url,
            "instances": [i.describe() for i in self.instances],
            "proxy": None if self.proxy is None else self.proxy.describe(),
            "companions": [o.describe() for o in self.companions],
        }
        _write_atomically(self.status_path, status)

    def _write_targets(self) -> None:
        """Prometheus file SD: one group per process, so each keeps its name as ``instance``
        (stable across restarts of the cluster, whose ports are picked afresh)."""
        named = [(child.name, child.scrape) for child in self.children if child.scrape]
        if self.metrics_port is not None:
            named.append(
                ("supervisor", ScrapeTarget("fichas-supervisor", f"127.0.0.1:{self.metrics_port}"))
            )
        groups = [
            {"targets": [target.address], "labels": {"job": target.job, "instance": name}}
            for name, target in named
        ]
        _write_atomically(self.targets_path, groups)


def _write_atomically(path: Path, content: object) -> None:
    """Readers (``fichas status``, Prometheus) never see half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, indent=2))
    temporary.replace(path)
