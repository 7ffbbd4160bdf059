"""Helpers shared by the resource modules: pages, lookups, timestamps, integrity errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Select, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from api.domain.errors import Conflict, NotFound

Row = dict[str, Any]


def now() -> datetime:
    return datetime.now(UTC)


def fetch_page(
    conn: Connection, query: Select[Any], table: Table, after: int, limit: int
) -> tuple[list[Row], int | None]:
    """One page in id order, starting after ``after``; also the id to continue from, if any.

    Keyset pagination on the primary key: stable while rows are inserted (new rows sort last)
    and as fast on the last page as on the first.
    """
    rows = conn.execute(query.where(table.c.id > after).order_by(table.c.id).limit(limit + 1))
    page = [dict(r._mapping) for r in rows]
    if len(page) > limit:
        page.pop()
        return page, page[-1]["id"]
    return page, None


def get_by_id(
    conn: Connection, table: Table, what: str, ident: int, *, for_update: bool = False
) -> Row:
    query = select(table).where(table.c.id == ident)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(what, ident)
    return dict(row._mapping)


def is_unique_violation(exc: IntegrityError, column: Column[Any]) -> bool:
    """Whether the error came from the unique constraint on ``column``.

    PostgreSQL names the constraint (``uq_<table>_<column>``, our naming convention); SQLite
    names the column (``<table>.<column>``).
    """
    message = str(exc.orig)
    table = column.table.name
    return f"uq_{table}_{column.name}" in message or f"{table}.{column.name}" in message


@contextmanager
def unique_or_conflict(column: Column[Any], detail: str) -> Iterator[None]:
    """Turn a duplicate value in ``column`` into a Conflict the client can act on."""
    try:
        yield
    except IntegrityError as exc:
        if is_unique_violation(exc, column):
            raise Conflict(detail) from exc
        raise
