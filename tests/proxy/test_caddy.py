"""The proxy configuration: rendered for any number of instances, and accepted by Caddy."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.caddy import (
    ProxyConfig,
    ProxyConfigError,
    Tls,
    caddy_binary,
    greater_than_pattern,
    write_config,
)
from proxy.cluster import free_port, stop_process
from tests.support import own_certificate


@given(limit=st.integers(0, 10**9), value=st.integers(0, 10**12))
def test_greater_than_pattern_matches_exactly_the_larger_numbers(limit: int, value: int) -> None:
    assert bool(re.fullmatch(greater_than_pattern(limit), str(value))) is (value > limit)


@pytest.mark.parametrize("https", ["none", "internal", "own"])
@pytest.mark.parametrize("instances", [1, 3])
def test_rendered_config_passes_caddy_validate(tmp_path: Path, instances: int, https: str) -> None:
    tls: Tls = None
    if https == "internal":
        tls = "internal"
    elif https == "own":
        tls = own_certificate(tmp_path / "a folder with spaces")
    config = ProxyConfig(
        listen="127.0.0.1:8080",
        upstreams=[f"127.0.0.1:{9000 + n}" for n in range(instances)],
        admin="127.0.0.1:2019",
        max_body_bytes=1024 * 1024,
        tls=tls,
    )
    rendered = write_config(config, tmp_path / "Caddyfile").read_text()
    assert rendered.count("127.0.0.1:90") == instances
    assert "admin 127.0.0.1:2019" in rendered
    assert ("skip_install_trust" in rendered) is bool(tls)


def test_caddy_refuses_a_broken_config(tmp_path: Path) -> None:
    config = ProxyConfig(
        listen="127.0.0.1:no-port",
        upstreams=["127.0.0.1:9000"],
        admin="127.0.0.1:2019",
        max_body_bytes=1,
    )
    with pytest.raises(ProxyConfigError, match="caddy rejected"):
        write_config(config, tmp_path / "Caddyfile")


class _EchoForwardedFor(BaseHTTPRequestHandler):
    """An upstream that answers with the X-Forwarded-For it was given."""

    def do_GET(self) -> None:
        body = self.headers.get("X-Forwarded-For", "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_proxy_forwards_the_address_it_saw_not_the_one_claimed(tmp_path: Path) -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _EchoForwardedFor)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    listen = f"127.0.0.1:{free_port()}"
    config = ProxyConfig(
        listen=listen,
        upstreams=[f"127.0.0.1:{upstream.server_port}"],
        admin=f"127.0.0.1:{free_port()}",
        max_body_bytes=1024,
    )
    caddyfile = write_config(config, tmp_path / "Caddyfile")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    with (tmp_path / "caddy.log").open("wb") as log:
        caddy = subprocess.Popen(
            [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx2.get(f"http://{listen}/", headers={"X-Forwarded-For": "6.6.6.6"})
                if response.status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "caddy.log").read_text()
            time.sleep(0.1)
        assert response.text == "127.0.0.1"
    finally:
        stop_process(caddy, timeout=10)
        upstream.shutdown()
        upstream.server_close()
