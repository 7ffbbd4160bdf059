"""Idempotent POSTs: a POST retried with the same Idempotency-Key is answered, not redone.

The stored response is written in the same transaction as the resource, so either both exist or
neither does; a key's transactions run one at a time. Keys are scoped to the API key that sent
them, and expire after ``FICHAS_IDEMPOTENCY_TTL`` (api/data/idempotency_pruning.py deletes the
expired ones).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy.engine import Connection
from starlette.responses import Response

from api.data import idempotency
from api.data.common import now
from api.data.idempotency import StoredResponse
from api.db.engine import one_at_a_time
from api.http.problems import Problem
from api.http.representation import json_response
from api.routes.context import Call

HEADER = "Idempotency-Key"

# What a POST's transaction returns: the JSON body, and the new resource's path if it made one.
Outcome = tuple[bytes, str | None]


# 1 to 255 printable ASCII characters; HTTP strips the spaces around a header value, so the key
# neither starts nor ends with one. The OpenAPI document publishes this same pattern.
KEY_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"
_KEY = re.compile(KEY_PATTERN)


def _checked_key(raw: str) -> str:
    if not _KEY.fullmatch(raw):
        raise Problem(
            400,
            "bad-idempotency-key",
            "Invalid Idempotency-Key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )
    return raw


def refuse(call: Call) -> None:
    """For a POST whose answer holds a secret (a new key's token): storing the answer would keep
    the secret in the database, and storing it without the secret would replay a useless answer.
    Refused rather than ignored, because the proxy retries any POST that carries the header."""
    if HEADER in call.request.headers:
        raise Problem(
            400,
            "idempotency-key-refused",
            "Idempotency-Key not accepted here",
            f"{call.request.method} {call.request.url.path} answers with a secret, which is never "
            "stored: send it without Idempotency-Key (after a network failure, list what exists "
            "before trying again)",
        )


async def post(
    call: Call, payload: BaseModel, make: Callable[[Connection], Outcome], status: int = 201
) -> Response:
    """Run ``make`` in a write transaction, once per Idempotency-Key when the client sent one."""
    raw_key = call.request.headers.get(HEADER)
    if raw_key is None:
        body, location = await call.db.write(make)
        return _answer(call, StoredResponse("", status, body, location), replayed=False)

    key = _checked_key(raw_key)
    request = f"{call.request.method} {call.request.url.path} {payload.model_dump_json()}"
    fingerprint = hashlib.sha256(request.encode()).hexdigest()
    principal_id = call.principal.id
    ttl = timedelta(seconds=call.services.settings.idempotency_ttl)

    def transaction(conn: Connection) -> tuple[StoredResponse, bool]:
        # A twin in flight (the same request, sent again by the PC or by the proxy to another
        # instance while the first still ran) is waited for, then replayed: looked up before it
        # committed, it would be done again — a second pedido, or a status change refused 409
        # as already made. On SQLite, writes are one at a time anyway.
        one_at_a_time(conn, f"idempotency {principal_id} {key}")
        stored = idempotency.find(conn, principal_id, key, not_before=now() - ttl)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was already used for a different request",
                )
            return stored, True
        body, location = make(conn)
        response = StoredResponse(fingerprint, status, body, location)
        idempotency.store(conn, principal_id, key, response)
        return response, False

    response, replayed = await call.db.write(transaction)
    return _answer(call, response, replayed=replayed)


def _answer(call: Call, stored: StoredResponse, *, replayed: bool) -> Response:
    headers = {"Location": stored.location} if stored.location else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
        call.services.metrics.idempotent_replays.inc()
    return json_response(call.request, stored.body, stored.status, headers)
