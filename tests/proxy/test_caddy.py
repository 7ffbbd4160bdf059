"""The proxy configuration: rendered for any number of instances, and accepted by Caddy."""

from __future__ import annotations

import re
import socket
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.caddy import (
    ProxyConfig,
    ProxyConfigError,
    Tls,
    greater_than_pattern,
    internal_certificate_names,
    write_config,
)
from tests.proxy.support import Caddy, echo_forwarded_for, proxy_config, running_caddy, stubs
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


def test_the_proxy_forwards_the_address_it_saw_not_the_one_claimed(tmp_path: Path) -> None:
    with stubs(1, echo_forwarded_for) as upstreams:
        config = proxy_config([upstreams[0].address], max_body_bytes=1024)
        with running_caddy(config, tmp_path) as caddy:
            response = httpx2.get(caddy.base_url, headers={"X-Forwarded-For": "6.6.6.6"})
    assert response.text == "127.0.0.1"


@pytest.mark.parametrize(
    ("method", "headers", "tries", "status"),
    [
        ("POST", {"Idempotency-Key": "k-1"}, 2, 201),  # deduplicated by the API: sent again
        ("POST", {}, 1, 502),
        ("PATCH", {"Idempotency-Key": "k-1"}, 1, 502),  # the API ignores the key on a PATCH
        ("GET", {}, 2, 201),
    ],
)
def test_after_a_failed_round_trip_only_what_is_safe_to_send_twice_is_retried(
    tmp_path: Path, method: str, headers: dict[str, str], tries: int, status: int
) -> None:
    def hang_up_once(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        if request.path == "/health":
            return 200, b""
        first = sum(1 for stub in upstreams for seen in stub.seen if seen[1] == "/pedidos") == 1
        return (0 if first else 201), b""

    with stubs(2, hang_up_once) as upstreams:
        config = proxy_config([stub.address for stub in upstreams])
        with running_caddy(config, tmp_path) as caddy:
            response = httpx2.request(
                method, f"{caddy.base_url}/pedidos", headers=headers, content=b"{}", timeout=10
            )
    assert response.status_code == status
    assert sum(1 for stub in upstreams for seen in stub.seen if seen[1] == "/pedidos") == tries


@pytest.mark.parametrize(
    ("listen_host", "host_name", "names"),
    [
        ("127.0.0.1", "fabrica", ["127.0.0.1", "localhost", "fabrica"]),
        ("0.0.0.0", "Fabrica.LAN.", ["127.0.0.1", "localhost", "fabrica.lan"]),
        ("", "fabrica", ["127.0.0.1", "localhost", "fabrica"]),
        ("[::]", "fabrica", ["127.0.0.1", "::1", "localhost", "fabrica"]),
        ("[::1]", "fabrica", ["::1", "localhost", "fabrica"]),
        ("fichas.local", "fabrica", ["fichas.local", "localhost", "fabrica"]),
        ("localhost", "localhost", ["localhost"]),
        # Names no certificate (nor Caddyfile) could carry as they are: left out.
        ("127.0.0.1", "PC_da_Fabrica", ["127.0.0.1", "localhost"]),
        ("127.0.0.1", "pc {", ["127.0.0.1", "localhost"]),
    ],
)
def test_the_internal_ca_certifies_the_address_localhost_and_the_host_name(
    tmp_path: Path, listen_host: str, host_name: str, names: list[str]
) -> None:
    assert internal_certificate_names(listen_host, host_name) == names
    config = ProxyConfig(
        listen=f"{listen_host}:8443",
        upstreams=["127.0.0.1:9000"],
        admin="127.0.0.1:2019",
        max_body_bytes=1024,
        tls="internal",
        host_name=host_name,
    )
    write_config(config, tmp_path / "Caddyfile")  # Caddy accepts it


def _served_certificate(caddy: Caddy, name: str) -> tuple[dict[str, Any], bytes]:
    """The certificate Caddy serves to a client asking for ``name`` (at the listen address,
    whatever ``name`` resolves to here), verified against the internal CA, and the answer to
    a request with that Host."""
    host, _, port = caddy.config.listen.rpartition(":")
    context = caddy.trusting_context()  # verifies the chain and that it names ``name``
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        certificate = tls.getpeercert()
        assert certificate is not None
        tls.sendall(f"GET /health HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return certificate, answer


def test_tls_internal_serves_certificates_for_localhost_and_the_host_name(tmp_path: Path) -> None:
    host_name = socket.gethostname().lower()
    with stubs(1, lambda request: (200, b"from the upstream")) as upstreams:
        config = proxy_config([upstreams[0].address], tls="internal")
        assert config.listen.startswith("127.0.0.1:")
        with running_caddy(config, tmp_path) as caddy:
            served = {
                name: _served_certificate(caddy, name)
                for name in ("127.0.0.1", "localhost", host_name)
            }
    for name, (certificate, answer) in served.items():
        kind = "IP Address" if name == "127.0.0.1" else "DNS"
        assert (kind, name) in certificate["subjectAltName"], (name, certificate)
        # The site answers any Host, as it does over HTTP: not only the listen address.
        assert answer.startswith(b"HTTP/1.1 200 "), (name, answer)
        assert answer.endswith(b"from the upstream"), (name, answer)
