"""Who is calling: resolve the Bearer token of a request to a Principal, with a short cache."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from api.auth.keys import Principal, split_token, verify
from api.auth.revocations import Revocations
from api.data import chaves
from api.db.gateway import Database
from api.http.problems import Problem
from api.resilience.ratelimit import AUTH_FAILURES, RateLimiter

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fichas"'}


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Authentication required", detail, headers=_CHALLENGE)


def client_address(request: Request) -> str:
    """The PC's address (the proxy's X-Forwarded-For, when from a trusted proxy)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    until: float  # time.monotonic() after which it is looked up again
    generation: int | None  # revocations' generation when it was looked up; None: never trusted


class Authenticator:
    """Checks tokens against the database, trusting a verified key for ``ttl`` seconds while no
    revocation is heard of (api/auth/revocations.py); admin keys, which can make keys, never.

    Failed authentications are counted per client address (the ``auth-failures`` rate limit).
    Beyond that budget, a token this instance has not verified before is refused 429 *before*
    it is looked up: a guess then costs a counter read, not a database read, and the answer is
    the same for a right and a wrong token, so a 429 tells the guesser nothing. A token verified
    here before is no guess, and still gets through from that address: a PC behind the same
    address as the guesser (a NAT) keeps working.
    """

    def __init__(
        self, db: Database, ttl: float, revocations: Revocations, limits: RateLimiter
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._revocations = revocations
        self._limits = limits
        self._verified: dict[str, _Verified] = {}  # token → its last successful lookup

    async def principal(self, request: Request, scope: str, route: str) -> Principal:
        """``route``: the route template, for the rate-limit metric."""
        headers = request.headers.getlist("authorization")
        if len(headers) > 1:
            raise Problem(
                400,
                "bad-request",
                "Bad request",
                "send one Authorization header: which of several should count is not guessed",
            )
        kind, _, token = (headers[0] if headers else "").partition(" ")
        token = token.strip() if kind.lower() == "bearer" else ""
        known = self._verified.get(token)
        if known is not None and self._trusted(known):
            principal = known.principal
        else:
            principal = await self._look_up(request, route, token, known is not None)
        if scope not in principal.escopos:
            raise Problem(
                403,
                "forbidden",
                "Missing scope",
                f"this key lacks the {scope!r} scope needed here",
            )
        return principal

    async def revoked(self) -> None:
        """A key was revoked through this instance: trust nothing verified before."""
        await self._revocations.revoked()

    def _trusted(self, verified: _Verified) -> bool:
        return (
            verified.generation is not None
            and verified.generation == self._revocations.generation()
            and verified.until > time.monotonic()
        )

    async def _look_up(self, request: Request, route: str, token: str, known: bool) -> Principal:
        address = client_address(request)
        who = f"ip:{address}"
        if not known:
            verdict = await self._limits.test(AUTH_FAILURES, who)
            if not verdict.allowed:
                raise self._limits.refuse(AUTH_FAILURES, verdict, route, f"address {address}")
        generation = self._revocations.generation()  # before the lookup, which may be overtaken
        principal = await self._verify(token) if token else None
        if principal is None:
            self._verified.pop(token, None)
            await self._limits.check(AUTH_FAILURES, who)
            if not request.headers.get("authorization"):
                raise unauthorized("send an API key as `Authorization: Bearer <key>`")
            if not token:
                raise unauthorized("the Authorization header must be `Bearer <key>`")
            raise unauthorized("the API key is unknown or revoked")
        if "admin" in principal.escopos:
            generation = None
        self._verified[token] = _Verified(principal, time.monotonic() + self._ttl, generation)
        return principal

    async def _verify(self, token: str) -> Principal | None:
        parts = split_token(token)
        if parts is None:
            return None
        prefixo, secret = parts
        return verify(await self._db.read(chaves.by_prefix, prefixo), secret)
