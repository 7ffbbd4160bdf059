"""A real Caddy, rendered by ProxyConfig, in front of small stub upstreams: for tests of what
the proxy itself does (health checks, body limits, its own answers), where real instances
would only add startup time."""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

from fichas.processes import free_port, stop_process
from proxy.caddy import ProxyConfig, caddy_binary, write_config

# What a stub answers to one request: status and body, from the handler that got it; status 0
# hangs up without answering (a failed round trip, as from an instance that died mid-request).
Answer = Callable[[BaseHTTPRequestHandler], tuple[int, bytes]]


def echo_forwarded_for(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
    return 200, request.headers.get("X-Forwarded-For", "").encode()


@dataclass
class Stub:
    """An upstream on a free loopback port that records every request it was sent."""

    answer: Answer
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path), in order

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the API instances do

            def _any(self) -> None:
                stub.seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length)
                # Chunked bodies are not read (the stub records that they came); the
                # connection is closed after the answer so that none is left half read.
                self.close_connection = "Transfer-Encoding" in self.headers
                status, body = stub.answer(self)
                if status == 0:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PATCH = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def stubs(count: int, answer: Answer) -> Iterator[list[Stub]]:
    running = [Stub(answer) for _ in range(count)]
    try:
        yield running
    finally:
        for stub in running:
            stub.close()


def proxy_config(upstreams: list[str], **options: Any) -> ProxyConfig:
    """The config ``fichas up`` would render, on free loopback ports."""
    return ProxyConfig(
        listen=f"127.0.0.1:{free_port()}",
        upstreams=upstreams,
        admin=f"127.0.0.1:{free_port()}",
        **{"max_body_bytes": 1024 * 1024, **options},
    )


@dataclass
class Caddy:
    config: ProxyConfig
    log_path: Path
    data_home: Path  # its XDG_DATA_HOME: the internal CA lives there

    @property
    def base_url(self) -> str:
        return f"{'http' if self.config.tls is None else 'https'}://{self.config.listen}"

    @property
    def internal_root(self) -> Path:
        """The root certificate of Caddy's internal CA (``tls internal``)."""
        return self.data_home / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def trusting_context(self) -> ssl.SSLContext:
        """A client context trusting the internal CA's root, and nothing else."""
        return ssl.create_default_context(cafile=str(self.internal_root))

    def upstreams(self) -> dict[str, dict[str, Any]]:
        """Caddy's view of each upstream (admin API): address -> {num_requests, fails}."""
        answer = httpx2.get(f"http://{self.config.admin}/reverse_proxy/upstreams", timeout=5)
        answer.raise_for_status()
        return {u["address"]: u for u in answer.json()}

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()


@contextmanager
def running_caddy(config: ProxyConfig, directory: Path) -> Iterator[Caddy]:
    """Caddy run from ``config`` until the block ends (SIGTERM, then SIGKILL, by PID); yields
    once a request went through it to an upstream."""
    directory.mkdir(parents=True, exist_ok=True)
    caddyfile = write_config(config, directory / "Caddyfile")
    env = {**os.environ, "XDG_DATA_HOME": str(directory), "XDG_CONFIG_HOME": str(directory)}
    log_path = directory / "caddy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env,
            stdout=log,
            stderr=log,
        )
    caddy = Caddy(config, log_path, directory)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # Under HTTPS: once the CA exists and a certificate is issued (and verifies).
                verify = True if config.tls is None else caddy.trusting_context()
                answer = httpx2.get(f"{caddy.base_url}/health", timeout=5, verify=verify)
                if answer.status_code == 200:
                    break
            except (httpx2.TransportError, OSError):  # OSError: no CA root yet
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        yield caddy
    finally:
        stop_process(process, timeout=10)
