"""X-Forwarded-For is believed from the proxy only; the client address is what it says."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from api.http.middleware import ForwardedForMiddleware
from api.settings import Network

LOOPBACK: list[Network] = [ip_network("127.0.0.1/32"), ip_network("::1/128")]


def _client_address(request: Request) -> PlainTextResponse:
    assert request.client is not None
    return PlainTextResponse(request.client.host)


def _seen_client(peer: str, forwarded: list[str], trusted: list[Network] = LOOPBACK) -> str:
    app = ForwardedForMiddleware(Starlette(routes=[Route("/", _client_address)]), trusted)
    headers = [("X-Forwarded-For", value) for value in forwarded]
    with TestClient(app, client=(peer, 5555)) as client:
        return client.get("/", headers=headers).text


@pytest.mark.parametrize(
    ("peer", "forwarded", "seen"),
    [
        # The proxy on loopback says which PC it was: believed.
        ("127.0.0.1", ["192.168.0.17"], "192.168.0.17"),
        ("::1", ["2001:db8::5"], "2001:db8::5"),
        # A PC talking to an instance directly cannot claim to be someone else.
        ("192.168.0.17", ["10.9.9.9"], "192.168.0.17"),
        # Whatever a PC wrote on the left is not believed; the proxy's own entry is the last.
        ("127.0.0.1", ["6.6.6.6, 192.168.0.17"], "192.168.0.17"),
        # Trusted hops are skipped, also across repeated headers.
        ("127.0.0.1", ["6.6.6.6, 192.168.0.17", "127.0.0.1"], "192.168.0.17"),
        # Garbage stops the walk at the last address that could be believed.
        ("127.0.0.1", ["not-an-ip"], "127.0.0.1"),
        ("127.0.0.1", ["192.168.0.17, not-an-ip, 127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", [], "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_from_trusted_peers_only(
    peer: str, forwarded: list[str], seen: str
) -> None:
    assert _seen_client(peer, forwarded) == seen


def test_trusting_nobody_ignores_the_header() -> None:
    assert _seen_client("127.0.0.1", ["192.168.0.17"], trusted=[]) == "127.0.0.1"


def test_a_content_length_of_unicode_digits_is_not_a_server_error(client: TestClient) -> None:
    # "²" is a digit to str.isdigit() and not to int(): in-process (no server parser in front),
    # the body limit must not be the one to choke on it.
    answer = client.post(
        "/clientes", content=b"{}", headers={"Content-Length": "²".encode("latin-1")}
    )
    assert answer.status_code < 500
