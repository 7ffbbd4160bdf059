"""Shapes shared by every resource: pages, problems, string and id constraints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
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


# Whitespace trimmed from text fields: the Unicode White_Space property, spelled out because
# no regex shorthand agrees across engines (Python's \s adds \x1c-\x1f, the ECMAScript \s a
# client validates the document with adds \ufeff and lacks \x85). None of these characters is
# special inside a regex class, so the class below is the string itself.
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)

# Some character that is not whitespace, and still no NUL.
NOT_BLANK = f"^[^\\x00]*[^\\x00{WHITESPACE}][^\\x00]*$"

# What a client reads instead of the pattern a value failed.
PATTERN_MESSAGES = {
    NO_NUL: "must not contain NUL characters",
    NOT_BLANK: "must not be blank, nor contain NUL characters",
    CURSOR_PATTERN: "is not a cursor this API gave out: pass next_cursor from a page as it is",
}


def _trim(value: str) -> str:
    return value.strip(WHITESPACE)


@dataclass(frozen=True)
class Text(GroupedMetadata):
    """Free text of bounded length, trimmed of surrounding whitespace; required text
    (``min_length`` ≥ 1) may not be blank.

    The constraints apply to the value as sent and the trimming comes after, so that the
    OpenAPI document's ``maxLength``/``minLength``/``pattern`` say exactly what is accepted
    (pydantic's own ``strip_whitespace`` checks the trimmed value: "\\n" would pass
    ``minLength: 1`` in the document and then be refused)."""

    max_length: int
    min_length: int = 0

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(
            min_length=self.min_length,
            max_length=self.max_length,
            pattern=NOT_BLANK if self.min_length else NO_NUL,
        )
        yield AfterValidator(_trim)


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
