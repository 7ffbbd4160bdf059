"""Service endpoints: what this is, is it alive, is it ready, and its contract."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from typing_extensions import TypedDict

from api.cache.store import RedisStore
from api.http.problems import Problem
from api.routes.context import Call
from api.routes.operation import Operation
from fichas import __version__


class Info(TypedDict):
    name: str
    version: str
    docs: str


class Health(TypedDict):
    status: str


class Readiness(TypedDict):
    status: str
    redis: str  # "ok", "degraded" (the instance serves on without it) or "off" (not configured)


async def root(call: Call) -> Response:
    return JSONResponse({"name": "fichas", "version": __version__, "docs": "/openapi.json"})


async def health(call: Call) -> Response:
    # Liveness only: touching the database here would restart healthy instances during a DB blip.
    return JSONResponse({"status": "ok"})


async def ready(call: Call) -> Response:
    try:
        await call.db.ping()
    except Exception as exc:
        raise Problem(
            503,
            "not-ready",
            "Not ready",
            f"the database does not answer: {type(exc).__name__}",
            headers={"Retry-After": "1"},
        ) from exc
    store = call.services.cache.store
    if not isinstance(store, RedisStore):  # no Redis configured: the cache is in-process
        return JSONResponse({"status": "ok", "redis": "off"})
    redis = "ok" if await store.ping() else "degraded"
    return JSONResponse({"status": "ok", "redis": redis})


async def openapi(call: Call) -> Response:
    document: bytes = call.request.app.state.openapi
    return Response(document, media_type="application/json")


TAG = "service"
OPERATIONS = [
    Operation("GET", "/", root, "What this service is", TAG, response=Info),
    Operation("GET", "/health", health, "Liveness: the process answers", TAG, response=Health),
    Operation("GET", "/ready", ready, "Readiness: the database answers; Redis reported",
              TAG, response=Readiness, errors=(503,)),
    Operation("GET", "/openapi.json", openapi, "This OpenAPI 3.1 document", TAG),
]  # fmt: skip
