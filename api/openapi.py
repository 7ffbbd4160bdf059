"""The OpenAPI 3.1 document, built from the operation table and the pydantic schemas."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from api.routes import idempotency
from api.routes.operation import Operation
from api.routes.table import all_operations
from api.schemas.common import ProblemBody
from fichas import __version__

_REF = "#/components/schemas/{model}"

# Problems every operation of a kind can answer, beyond the ones it declares.
_STATUS_TEXT = {
    400: "Malformed or ambiguous request (bad JSON, a JSON key or query parameter given twice, "
    "bad Idempotency-Key)",
    401: "Missing, unknown or revoked API key",
    403: "The key lacks the scope this operation needs",
    404: "No such resource",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current ETag",
    413: "Request body larger than the limit",
    415: "Body is not application/json",
    422: "Validation failed; `errors` lists each field",
    429: "Over a rate limit; retry after `Retry-After` seconds",
    500: "Unexpected server error; quote `request_id`",
    503: "Temporarily unavailable; retry after `Retry-After` seconds",
}


class _Schemas:
    """Collects component schemas; returns inline schemas that reference them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, shape: Any, mode: str) -> dict[str, Any]:
        schema: dict[str, Any] = TypeAdapter(shape).json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
        self.components.update(schema.pop("$defs", {}))
        return schema


def _path(template: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", template)


def _parameters(op: Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in re.findall(r"\{(\w+)(?::\w+)?\}", op.path):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            }
        )
    if op.query is not None:
        query_schema = schemas.of(op.query, "validation")
        required = set(query_schema.get("required", []))
        for name, prop in query_schema["properties"].items():
            description = prop.pop("description", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
    optional_headers = [
        (_has_etag(op), "If-None-Match", "ETag you hold; 304 with no body if it is still current."),
        (op.conditional, "If-Match", "ETag of what you read; 412 if it changed since."),
        (op.idempotent, "Idempotency-Key", "Retry-safe: the same key and body replay the answer."),
    ]
    for applies, name, description in optional_headers:
        if applies:
            schema: dict[str, Any] = {"type": "string"}
            if name == "Idempotency-Key":
                schema.update(pattern=idempotency.KEY_PATTERN)
            params.append(
                {"name": name, "in": "header", "required": False, "description": description,
                 "schema": schema}
            )  # fmt: skip
    return params


def _has_etag(op: Operation) -> bool:
    return op.method == "GET" and op.media_type == "application/json" and op.response is not None


def _links(op: Operation, operations: list[Operation]) -> dict[str, Any]:
    """Where a response leads: a created resource's operations (by its id), and from a read to
    the guarded changes of the same resource (with its ETag as If-Match)."""
    links: dict[str, Any] = {}
    if op.method == "POST" and op.status == 201:
        for other in operations:
            if other.path.startswith(op.path + "/{id"):
                links[other.operation_id] = {
                    "operationId": other.operation_id,
                    "parameters": {"path.id": "$response.body#/id"},
                }
    if _has_etag(op) and "{id" in op.path:
        for other in operations:
            if other.conditional and other.path.startswith(op.path):
                links[other.operation_id] = {
                    "operationId": other.operation_id,
                    "parameters": {
                        "path.id": "$request.path.id",
                        "header.If-Match": "$response.header.ETag",
                    },
                }
    return links


def _error_statuses(op: Operation) -> list[int]:
    statuses = set(op.errors) | {429, 500}  # every operation is rate-limited
    if op.scope is not None:
        statuses |= {400, 401, 403}  # 400: two Authorization headers
    if "{" in op.path:
        statuses.add(404)
    if op.query is not None or op.body is not None:
        statuses |= {400, 422}  # 400: a parameter or key given twice
    if op.body is not None:
        statuses |= {400, 413, 415}
    if op.conditional:
        statuses.add(412)
    if op.idempotent:
        statuses |= {400, 422}
    return sorted(statuses)


def _operation(op: Operation, schemas: _Schemas, operations: list[Operation]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": op.summary}
    if op.status != 204:
        if op.response is not None:
            success["content"] = {
                op.media_type: {"schema": schemas.of(op.response, "serialization")}
            }
        else:
            success["content"] = {
                op.media_type: {
                    "schema": {"type": "string"} if op.media_type.startswith("text/") else {}
                }
            }
    if op.media_type == "application/json" and op.status != 204:
        success["headers"] = {"ETag": {"schema": {"type": "string"}}}
    if op.status == 201:
        success["headers"]["Location"] = {
            "description": "Path of the new resource",
            "schema": {"type": "string"},
        }
    if links := _links(op, operations):
        success["links"] = links
    responses: dict[str, Any] = {str(op.status): success}
    if _has_etag(op):
        responses["304"] = {"description": "Not modified: the ETag sent is still current"}
    for status in _error_statuses(op):
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op, schemas),
        "responses": responses,
        "security": [{"apiKey": []}] if op.scope else [],
    }
    notes = [f"Needs the `{op.scope}` scope."] if op.scope else []
    if op.secret:
        notes.append(
            "The answer holds a secret, shown once and never stored (`Cache-Control: no-store`): "
            "an `Idempotency-Key` is refused (400), so the proxy never sends this request twice."
        )
    if notes:
        document["description"] = " ".join(notes)
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.of(op.body, "validation")}},
        }
    return document


def build_openapi(operations: list[Operation]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(_path(op.path), {})[op.method.lower()] = _operation(
            op, schemas, operations
        )
    problem_schema = schemas.of(ProblemBody, "serialization")
    schemas.components["Problem"] = problem_schema
    problem_ref = {"$ref": _REF.format(model="Problem")}
    responses = {
        f"Problem{status}": {
            "description": text,
            "content": {"application/problem+json": {"schema": problem_ref}},
        }
        for status, text in _STATUS_TEXT.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fichas",
            "version": __version__,
            "description": "Production orders (pedidos) for small factories, as the shop-floor "
            "PCs use them. Errors are RFC 9457 problem+json; lists use cursor pagination.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "responses": responses,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


@cache
def openapi_json() -> bytes:
    """The document ``/openapi.json`` serves, built once per process: the operation table does
    not change while it runs, and building costs ~0.2 s of pydantic schema generation (an app
    made per test paid it each time, a third of the quick test loop)."""
    return json.dumps(build_openapi(all_operations()), ensure_ascii=False).encode()
