"""What can go wrong in the domain, independent of HTTP (``api.http.problems`` maps these)."""

from __future__ import annotations


class DomainError(Exception):
    pass


class NotFound(DomainError):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} does not exist")


class Conflict(DomainError):
    """The request contradicts the current state (duplicate, invalid transition, in use, or it
    names a cliente or tipo that does not exist or is not active)."""


class PreconditionFailed(DomainError):
    """If-Match named a version that is no longer current."""
