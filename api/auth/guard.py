"""Who is calling: resolve the Bearer token of a request to a Principal, with a short cache."""

from __future__ import annotations

import time

from starlette.requests import Request

from api.auth.keys import Principal, split_token, verify
from api.data import chaves
from api.db.gateway import Database
from api.http.problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fichas"'}


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Authentication required", detail, headers=_CHALLENGE)


class Authenticator:
    """Checks tokens against the database, trusting a verified key for ``ttl`` seconds.

    The cache spares a database read per request; the price is that a revoked key keeps
    working on an instance for at most ``ttl`` seconds.
    """

    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._ttl = ttl
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def principal(self, request: Request, scope: str) -> Principal:
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if not header:
            raise unauthorized("send an API key as `Authorization: Bearer <key>`")
        if kind.lower() != "bearer" or not token:
            raise unauthorized("the Authorization header must be `Bearer <key>`")
        principal = await self._resolve(token.strip())
        if principal is None:
            raise unauthorized("the API key is unknown or revoked")
        if scope not in principal.escopos:
            raise Problem(
                403,
                "forbidden",
                "Missing scope",
                f"this key lacks the {scope!r} scope needed here",
            )
        return principal

    async def _resolve(self, token: str) -> Principal | None:
        cached = self._cache.get(token)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        parts = split_token(token)
        if parts is None:
            return None
        prefixo, secret = parts
        principal = verify(await self._db.read(chaves.by_prefix, prefixo), secret)
        if principal is not None and self._ttl > 0:
            self._cache[token] = (principal, time.monotonic() + self._ttl)
        return principal
