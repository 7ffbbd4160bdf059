"""Reading request input: JSON bodies and query strings, validated into pydantic models."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from api.http.problems import Problem, validation_problem

M = TypeVar("M", bound=BaseModel)

JSON_TYPES = ("application/json", "application/merge-patch+json")


def _field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [
        {
            "field": prefix + (".".join(str(p) for p in err["loc"]) or "(body)"),
            "message": err["msg"],
        }
        for err in exc.errors(include_url=False)
    ]


async def read_json(request: Request, model: type[M]) -> M:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the body as application/json, not {media_type or 'no content type'}",
        )
    body = await request.body()  # the app's body limit applies while reading
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise Problem(
                400, "malformed-json", "Malformed JSON", "the body is not valid JSON"
            ) from None
        raise validation_problem(_field_errors(exc)) from None


def read_query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise validation_problem(_field_errors(exc)) from None
