"""Generation counters kept in the database, for the response cache when there is no Redis
(api/cache/local.py): one row of ``contadores`` per cached family, named like its Redis key.

A new generation is a random number, not the old one plus one: what an instance cached is only
compared for equality, and a random value cannot come back by itself — as a counter would after
``fichas restore`` puts back a database whose counters are behind (backup/restore.py renews
them too). 31 bits, so that the value fits the column's INTEGER on PostgreSQL as on SQLite.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from api.db.tables import contadores

_CURRENT = sa.select(contadores.c.valor).where(contadores.c.nome == sa.bindparam("nome"))
_SET = (
    sa.update(contadores)
    .where(contadores.c.nome == sa.bindparam("name"))
    .values(valor=sa.bindparam("value"))
)
_ADD = sa.insert(contadores)


@cache
def _current_sql(dialect: Dialect) -> tuple[str, bool]:
    compiled = _CURRENT.compile(dialect=dialect)
    return compiled.string, compiled.positional


def current(conn: Connection, name: str) -> bytes:
    """The generation of ``name`` as bytes (b"0" before the first renewal), as Redis has it.

    Asked once per cached read, on the driver's own cursor: through ``conn.execute`` this
    one-row lookup measured 32 us, on the cursor 6 us. What that skips — result processing, and
    the statement events, so this lookup has no trace span of its own — has nothing to do for
    one integer; the statement is SQLAlchemy's, compiled once for the engine's dialect."""
    sql, positional = _current_sql(conn.dialect)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, (name,) if positional else {"nome": name})
        row = cursor.fetchone()
    except conn.dialect.loaded_dbapi.Error:
        # Asked again through SQLAlchemy, which reports the failure as it reports every other
        # (a lost connection invalidated, the error one the breakers know).
        row = conn.execute(_CURRENT, {"nome": name}).one_or_none()
    finally:
        cursor.close()
    return b"0" if row is None else str(row[0]).encode()


def renew(conn: Connection, names: Iterable[str]) -> None:
    """A new generation for each of ``names``; the row is made on the first renewal."""
    for name in names:
        value = secrets.randbits(31)
        if conn.execute(_SET, {"name": name, "value": value}).rowcount == 0:
            conn.execute(_ADD, {"nome": name, "valor": value})
