"""Key issuing and the first admin key."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import Engine

from api.auth.keys import ensure_admin_key, issue, split_token, verify
from api.data import chaves


def test_tokens_are_stored_only_as_hashes(engine: Engine) -> None:
    with engine.begin() as conn:
        row, token = issue(conn, "pc-1", ["read"])
        stored = chaves.by_prefix(conn, row["prefixo"])
    assert stored is not None
    secret = token.split("_", 2)[2]
    assert secret not in str(stored)
    principal = verify(stored, secret)
    assert principal is not None
    assert principal.escopos == {"read"}
    assert verify(stored, secret + "x") is None


def test_split_token_accepts_underscores_in_the_secret() -> None:
    assert split_token("fichas_ab12cd34_se_cr-et") == ("ab12cd34", "se_cr-et")
    assert split_token("fichas__x") is None
    assert split_token("other_ab_cd") is None


def test_first_start_creates_one_admin_key_in_a_private_file(
    engine: Engine, tmp_path: Path
) -> None:
    path = ensure_admin_key(engine, tmp_path)
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    prefixo, secret = token.split("_", 2)[1:]
    with engine.begin() as conn:
        principal = verify(chaves.by_prefix(conn, prefixo), secret)
    assert principal is not None
    assert principal.escopos == {"read", "write", "admin"}
    assert ensure_admin_key(engine, tmp_path) is None  # keys exist now: nothing more


def test_a_new_admin_key_is_made_when_every_key_was_revoked(engine: Engine, tmp_path: Path) -> None:
    first = ensure_admin_key(engine, tmp_path)
    assert first is not None
    with engine.begin() as conn:
        for row in chaves.page(conn, after=0, limit=10)[0]:
            chaves.revoke(conn, row["id"])
    second = ensure_admin_key(engine, tmp_path / "again")
    assert second is not None
    with engine.begin() as conn:
        names = [r["nome"] for r in chaves.page(conn, after=0, limit=10)[0]]
    assert names[0] == "admin"
    assert names[1].startswith("admin-")
