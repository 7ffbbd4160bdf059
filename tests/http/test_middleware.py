"""X-Forwarded-For is believed from the proxy only; the client address is what it says."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from api.http.middleware import BodyLimitMiddleware, ForwardedForMiddleware
from fichas.settings.values import Network

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


def test_a_content_length_of_unicode_digits_is_not_the_body_limits_error() -> None:
    # "²" is a digit to str.isdigit() and not to int(). The servers' parsers refuse such a
    # header before the app sees it (and test clients write their own Content-Length), so the
    # middleware is called as a server would call it.
    answered: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        answered.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-length", b"\xb2")],
    }
    asyncio.run(BodyLimitMiddleware(app, max_body_bytes=1024)(scope, receive, send))
    assert answered[0]["status"] == 204
