"""The cluster ``fichas up`` runs, built from Settings: N instances, Caddy, their supervisor."""

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
    """``companions``: processes watching the cluster, run beside it (proxy/monitoring.py);
    Litestream joins them when the database is a SQLite file (backup/replication.py)."""
    ports = [free_port() for _ in range(instances)]
    admin = f"127.0.0.1:{free_port()}"
    directory = settings.cluster_dir
    config = ProxyConfig(
        listen=listen,
        upstreams=[f"127.0.0.1:{port}" for port in ports],
        admin=admin,
        max_body_bytes=settings.max_body_bytes,
        tls=tls,
        tracing=tracing_configured(),
        debug_headers=settings.debug_headers,
        console_logs=console_wanted(settings.log_format),
    )
    caddyfile = write_config(config, directory / "Caddyfile")
    children = [
        Child(
            name=f"api-{n}",
            argv=[sys.executable, "-m", "fichas.cli", "serve", "--behind-proxy"],
            env={**os.environ, "FICHAS_LISTEN": f"127.0.0.1:{port}", "FICHAS_INSTANCE": f"api-{n}"},
            health_url=f"http://127.0.0.1:{port}/health",
            scrape=ScrapeTarget("fichas-api", f"127.0.0.1:{port}"),
        )
        for n, port in enumerate(ports, start=1)
    ]
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
    if replication.replicating(settings):
        companions = [_litestream(settings, directory), *companions]
    backups = BackupScheduler(settings)
    supervisor = Supervisor(
        children,
        proxy,
        settings.status_file,
        metrics_port=free_port(),
        background=[backups.run],
        companions=companions,
    )
    supervisor.registry.register(BackupMetrics(settings, lambda: backups.failures))
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
