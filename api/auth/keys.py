"""Issuing and verifying API keys.

A token is ``fichas_<prefix>_<secret>``: the prefix finds the row, the secret is checked against
its SHA-256. A plain hash suffices (no bcrypt/argon2) because secrets are 256 random bits, not
passwords: there is nothing to guess, and a slow hash would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from api.data import chaves
from api.data.common import Row
from api.db.engine import one_at_a_time, writing
from api.domain.escopos import SCOPES

ADMIN_KEY_FILE = "admin.key"


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    nome: str
    escopos: frozenset[str]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "fichas" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def issue(conn: Connection, nome: str, escopos: list[str]) -> tuple[Row, str]:
    """Create a key; return its row and the token, which is never retrievable again."""
    prefixo, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    row = chaves.create(conn, nome=nome, prefixo=prefixo, hash_=_hash(secret), escopos=escopos)
    return row, f"fichas_{prefixo}_{secret}"


def verify(row: Row | None, secret: str) -> Principal | None:
    if row is None or row["revogado_em"] is not None:
        return None
    if not hmac.compare_digest(row["hash"], _hash(secret)):
        return None
    return Principal(row["id"], row["nome"], frozenset(row["escopos"].split(",")))


def ensure_admin_key(engine: Engine, data_dir: Path) -> Path | None:
    """On a database with no active key, create an admin key and write it to a 0600 file.

    Runs in one write transaction, one starter at a time, so concurrent starters (on several
    hosts) cannot both create one. Returns the file written, or None when keys already existed.
    """
    with writing(engine) as conn:
        one_at_a_time(conn, "fichas: the first admin key")
        if chaves.count_active(conn):
            return None
        nome = "admin"
        while chaves.by_name(conn, nome) is not None:  # an earlier admin key was revoked
            nome = f"admin-{secrets.token_hex(2)}"
        _, token = issue(conn, nome, list(SCOPES))
        data_dir.mkdir(parents=True, exist_ok=True)
        path = _unused_key_file(data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(token + "\n")
        return path


def _unused_key_file(data_dir: Path) -> Path:
    """``admin.key``, else ``admin-2.key``, ``admin-3.key``, …: a key file is never overwritten.
    An older one may hold the key to a database that is about to be restored (a new admin key is
    made only on a database without keys: a new, or a lost, one)."""
    path, n = data_dir / ADMIN_KEY_FILE, 2
    while path.exists():
        path, n = data_dir / f"admin-{n}.key", n + 1
    return path
