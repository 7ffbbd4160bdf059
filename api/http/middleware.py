"""Pure ASGI middleware that every request passes through."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.paths import ascii_query
from api.http.problems import Problem, problem_response

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str:
    """One request header, read from the raw list (cheaper than building a Request per layer)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class RequestIdMiddleware:
    """Tags each request with an id (the proxy's ``X-Request-ID`` if sane, else a new one),
    echoed in the response and in every problem body, so a report can be found in the logs.
    Ahead of everything that reads the URL, it also makes the query string ASCII (``ascii_query``).

    Every answer also says ``X-Content-Type-Options: nosniff``, so that no browser reads a body
    as another type than the one declared (one header, at no measurable cost). Which instance
    answered (``X-Served-By``) is said only when ``instance`` is given: it helps follow a request
    through the cluster while debugging, and otherwise tells an outsider what runs behind the
    proxy (``FICHAS_DEBUG_HEADERS``)."""

    def __init__(self, app: ASGIApp, instance: str | None) -> None:
        self.app = app
        self.instance = instance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = _header(scope, b"x-request-id")
        # Not uuid4: its urandom call measured 7 % of a cached read. Ids need be unique, not secret.
        request_id = incoming if _SAFE_ID.match(incoming) else f"{random.getrandbits(128):032x}"
        scope["fichas.request_id"] = request_id
        scope["query_string"] = ascii_query(scope["query_string"])

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                if self.instance is not None:
                    headers["X-Served-By"] = self.instance
            await send(message)

        await self.app(scope, receive, send_with_id)
        return None


class BodyLimitMiddleware:
    """Caps request bodies: a declared Content-Length over the limit is refused before the
    handler runs; a streamed body is cut off as soon as it passes the limit. Both answer 413
    problem+json (Starlette's own limit answers plain text, hence this small class).

    A client that goes away before its body is complete is the client's doing, not a server
    error: answered (to nobody) as 499 problem, so that it is logged and counted as such rather
    than as Starlette's ClientDisconnect reaching the 500 handler with a traceback."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self) -> Problem:
        return Problem(
            413,
            "content-too-large",
            "Request body too large",
            f"the body may be at most {self.max_body_bytes} bytes",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        # isdigit() alone takes "²", a digit to Unicode but not to int(); the servers' own
        # parsers refuse such a header first, but this class does not rely on them.
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = problem_response(Request(scope), self._too_large())
            return await response(scope, receive, send)
        received = 0
        complete = False

        async def receive_within_limit() -> Message:
            nonlocal received, complete
            message = await receive()
            if message["type"] == "http.disconnect" and not complete:
                raise _client_left()  # inside the handler: answered like any Problem
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise self._too_large()
            complete = not message.get("more_body", False)
            return message

        await self.app(scope, receive_within_limit, send)
        return None


def _client_left() -> Problem:
    # 499: nginx's "client closed request", the status Caddy logs for the same thing.
    return Problem(
        499,
        "client-closed-request",
        "Client closed request",
        "the client closed the connection before its request body was complete",
    )


# Set in the ASGI scope of a request a trusted proxy made itself (no X-Forwarded-For): a health
# check, not a PC's request passed on.
FROM_PROXY = "fichas.from_proxy"


class ForwardedForMiddleware:
    """Puts the PC's address, not the proxy's, in ``scope["client"]`` — believing
    ``X-Forwarded-For`` only when the peer is a trusted proxy.

    Behind Caddy every peer is Caddy, and Caddy (trusting no proxy in front of itself) replaces
    whatever a PC claims with the address it saw. From any other peer the header is a claim
    anybody can forge, so it is ignored. Walking the list from the right, trusted hops are
    skipped and the first address beyond them is the client. (Hypercorn's ProxyFixMiddleware
    trusts a number of hops whoever the peer is; hence this small class.)
    """

    def __init__(self, app: ASGIApp, trusted: Sequence[IPv4Network | IPv6Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        # Parsing addresses was a tenth of a cached read's time, for the same few answers: the
        # peer is the proxy, and the hops are the factory's PCs. Bounded, for a peer that sends
        # a new X-Forwarded-For each time.
        self._forwarded_client = lru_cache(maxsize=4096)(self._forwarded_client_of)
        self._from_trusted = lru_cache(maxsize=256)(self._trusted_peer)

    def _trusted(self, address: IPv4Address | IPv6Address) -> bool:
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client:
            hops = ",".join(
                v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"
            )
            forwarded = self._forwarded_client(client[0], hops)
            if forwarded is not None:
                scope["client"] = (forwarded, 0)
            elif not hops and self._from_trusted(client[0]):
                scope[FROM_PROXY] = True  # the proxy's own request: its health check
        await self.app(scope, receive, send)

    def _trusted_peer(self, peer: str) -> bool:
        address = _address(peer)
        return address is not None and self._trusted(address)

    def _forwarded_client_of(self, peer: str, hops: str) -> str | None:
        """The address trusted proxies say the request came from, given the peer's and the
        X-Forwarded-For ``hops``; None to keep the peer's."""
        address = _address(peer)
        if address is None or not self._trusted(address):
            return None
        client = None
        for hop in reversed(hops.split(",")):
            address = _address(hop.strip())
            if address is None:
                break  # garbage: keep the last address that could be believed
            client = address
            if not self._trusted(address):
                break
        return None if client is None else str(client)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None
