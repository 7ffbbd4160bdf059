"""The compose stack's Caddyfile (deploy/caddy/Caddyfile): rendered by ``proxy.caddy``, the
renderer behind ``fichas up``, for the compose service names, so the two never drift apart.
A test renders it again and compares; after a change to proxy/, write it anew:

    uv run python -m deploy.compose_caddyfile
"""

from __future__ import annotations

from pathlib import Path

from fichas.settings import Settings
from proxy.caddy import ProxyConfig

CADDYFILE = Path(__file__).parent / "caddy" / "Caddyfile"
INSTANCES = ("api-1", "api-2", "api-3")  # the compose services, each listening on port 8000

COMPOSE_PROXY = ProxyConfig(
    listen="0.0.0.0:80",  # inside the proxy's container; compose publishes the port
    upstreams=[f"{name}:8000" for name in INSTANCES],
    admin="127.0.0.1:2019",  # the admin API: inside the container only, as under `fichas up`
    # Prometheus scrapes Caddy's metrics across the compose network from this listener, which
    # serves nothing else (the port is not published outside that network).
    metrics_listen=":2020",
    max_body_bytes=Settings.model_fields["max_body_bytes"].default,
    tracing=True,  # the proxy's environment points OTLP at the collector
)


def main() -> int:
    CADDYFILE.write_text(COMPOSE_PROXY.render())
    print(f"wrote {CADDYFILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
