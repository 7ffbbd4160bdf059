"""Shapes shared by every resource: pages, problems, string and id constraints."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

T = TypeVar("T")


def _integral(value: object) -> object:
    # JSON Schema's "integer" is any number without a fractional part, so 5.0 is one; strict
    # pydantic would refuse it. Taken as 5, and 5.5 still refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = BeforeValidator(_integral)
MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database
Id = Annotated[int, Field(ge=1, le=MAX_ID), Whole]
Limit = Annotated[int, Field(ge=1, le=200, description="Page size (1-200)."), Whole]

# A page cursor: an id as 4 bytes, base64url (api/http/pagination.py says why this shape).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{5}[AQgw]$"

# No NUL characters anywhere: PostgreSQL cannot store them, and no honest client sends them.
NO_NUL = r"^[^\x00]*$"


def text(max_length: int, min_length: int = 0) -> StringConstraints:
    """A stripped string of bounded length."""
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL
    )


def _iso_date(value: object) -> object:
    # Lax parsing would read "0" as a Unix timestamp; a date in a query string is YYYY-MM-DD.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_format", "must be a date as YYYY-MM-DD") from None
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
SearchText = Annotated[str, Field(max_length=100, pattern=NO_NUL)]


class Input(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped, and JSON
    types are taken as they are (``true`` is not a number, ``978307200`` is not a date)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # Fields that a PATCH may leave out but must not set to null.
    not_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_explicit_nulls(self) -> Self:
        for name in self.not_nullable & self.model_fields_set:
            if getattr(self, name) is None:
                raise PydanticCustomError("not_nullable", f"{name} may be changed but not removed")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the client sent, for a partial update."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Query(BaseModel):
    """Base of every query string: unknown parameters are ignored (clients add cache-busters)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class PageQuery(Query):
    limit: Limit | None = None
    cursor: str | None = Field(
        None,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page, as given (opaque).",
    )


class Page(TypedDict, Generic[T]):
    items: list[T]
    next_cursor: str | None


class FieldError(TypedDict):
    field: str
    message: str


class ProblemBody(TypedDict, total=False):
    """RFC 9457 problem details, as every 4xx/5xx answer carries them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[FieldError]
