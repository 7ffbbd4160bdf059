"""The cluster ``fichas up`` runs, built from Settings: N instances, Caddy, their supervisor —
on one host, or one side of it on each host of several (``--role app``, ``--role front``)."""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from backup import replication
from backup.metrics import BackupMetrics, ReplicationMetrics
from backup.scheduler import BackupScheduler
from fichas.processes import free_port, host_and_port
from fichas.settings import Settings
from observability.logs import console_wanted
from observability.tracing import tracing_configured
from proxy.caddy import ProxyConfig, Tls, caddy_binary, public_url, write_config
from proxy.supervisor import Child, ScrapeTarget, Supervisor
from proxy.upstreams import UpstreamsWatcher


def listen_problem(listen: str, option: str = "--listen") -> str | None:
    """Why the address ``option`` names cannot be listened on, found before anything starts
    (Caddy, or Prometheus, would only say so after the instances had started); None when it
    can."""
    try:
        host, port = host_and_port(listen)
    except ValueError as exc:
        return f"{option} {listen}: {exc}"
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Caddy binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"{listen} is in use: another program listens there; stop it, or give "
                    f"fichas up another {option}"
                )
            return f"cannot listen on {listen}: {exc.strerror or exc}"
    return None


def build_cluster(
    settings: Settings,
    *,
    instances: int,
    listen: str,
    tls: Tls,
    companions: Sequence[Child] = (),
) -> Supervisor:
    """One host: N instances on loopback, Caddy in front of them on ``listen``, backups.
    ``companions``: processes watching the cluster, run beside it (proxy/monitoring.py);
    Litestream joins them when the database is a SQLite file (backup/replication.py)."""
    addresses = [("127.0.0.1", free_port()) for _ in range(instances)]
    upstreams = [f"{host}:{port}" for host, port in addresses]
    proxy, _ = _proxy(settings, listen, tls, upstreams, remote=False)
    instances_here = _instances(addresses, public=False)
    return _supervisor(settings, instances_here, proxy, companions, backups=True)


def build_app_host(settings: Settings, *, instances: int, listen: str, backups: bool) -> Supervisor:
    """An app host of several: N instances on ``listen``'s address, from its port on, for a
    front host's proxy to reach; no proxy here. Backups only on the one host told to."""
    host, port = host_and_port(listen)
    addresses = [(host, port + n) for n in range(instances)]
    return _supervisor(settings, _instances(addresses, public=True), None, (), backups=backups)


def build_front_host(
    settings: Settings, *, listen: str, tls: Tls, upstreams: list[str], upstreams_file: Path
) -> Supervisor:
    """A front host of several: Caddy on ``listen`` in front of ``upstreams``, the instances
    (on app hosts) the upstreams file lists, reloaded when the file changes; no instance, no
    database."""
    proxy, config = _proxy(settings, listen, tls, upstreams, remote=True)
    watcher = UpstreamsWatcher(upstreams_file, config, settings.cluster_dir / "Caddyfile")
    return Supervisor(
        [], proxy, settings.status_file, metrics_port=free_port(), background=[watcher.run]
    )


def _instances(addresses: list[tuple[str, int]], *, public: bool) -> list[Child]:
    """An instance per address. ``public``: reached from other hosts (an app host's), so its
    address is one to show; else only the proxy beside it uses it."""
    return [
        Child(
            name=f"api-{n}",
            argv=[sys.executable, "-m", "fichas.cli", "serve", "--behind-proxy"],
            env={**os.environ, "FICHAS_LISTEN": f"{host}:{port}", "FICHAS_INSTANCE": f"api-{n}"},
            health_url=f"http://{host}:{port}/health",
            scrape=ScrapeTarget("fichas-api", f"{host}:{port}"),
            url=f"http://{host}:{port}" if public else None,
        )
        for n, (host, port) in enumerate(addresses, start=1)
    ]


def _proxy(
    settings: Settings, listen: str, tls: Tls, upstreams: list[str], *, remote: bool
) -> tuple[Child, ProxyConfig]:
    admin = f"127.0.0.1:{free_port()}"
    directory = settings.cluster_dir
    config = ProxyConfig(
        listen=listen,
        upstreams=upstreams,
        admin=admin,
        max_body_bytes=settings.max_body_bytes,
        tls=tls,
        tracing=tracing_configured(),
        debug_headers=settings.debug_headers,
        console_logs=console_wanted(settings.log_format),
        remote_upstreams=remote,
        response_timeout_seconds=settings.request_timeout_seconds + 1,
    )
    caddyfile = write_config(config, directory / "Caddyfile")
    # Caddy keeps its state (the internal CA, certificates) under the data dir, not in $HOME.
    caddy_env = {
        # Caddy's exporter speaks gRPC unless told otherwise; the API's, and so the endpoint
        # configured for both, speak OTLP over HTTP.
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        **os.environ,
        "OTEL_SERVICE_NAME": "fichas-proxy",
        "XDG_DATA_HOME": str(directory / "caddy-data"),
        "XDG_CONFIG_HOME": str(directory / "caddy-config"),
    }
    proxy = Child(
        name="caddy",
        argv=[caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=caddy_env,
        health_url=f"http://{admin}/config/",
        scrape=ScrapeTarget("caddy", admin),
        url=public_url(listen, tls),
    )
    return proxy, config


def _supervisor(
    settings: Settings,
    instances: list[Child],
    proxy: Child | None,
    companions: Sequence[Child],
    *,
    backups: bool,
) -> Supervisor:
    """The supervisor of instances (and their proxy, on one host), with the database's
    companions: Litestream on SQLite; backups when ``backups``."""
    if replication.replicating(settings):
        companions = [_litestream(settings, settings.cluster_dir), *companions]
    scheduler = BackupScheduler(settings) if backups else None
    supervisor = Supervisor(
        instances,
        proxy,
        settings.status_file,
        metrics_port=free_port(),
        background=[scheduler.run] if scheduler else [],
        companions=companions,
    )
    if scheduler is not None:
        supervisor.registry.register(BackupMetrics(settings, lambda: scheduler.failures))
    if replication.replicating(settings):
        supervisor.registry.register(ReplicationMetrics(settings))
    return supervisor


def _litestream(settings: Settings, directory: Path) -> Child:
    address = f"127.0.0.1:{free_port()}"
    config = replication.write_config(settings, directory / "litestream.yml", address)
    return Child(
        name="litestream",
        argv=replication.replicate_argv(config),
        env=dict(os.environ),
        health_url=f"http://{address}/metrics",
        scrape=ScrapeTarget("litestream", address),
    )
