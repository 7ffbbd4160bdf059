"""``fichas keys create|list|revoke``: manage API keys from the server's shell."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from api.domain.escopos import SCOPES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

T = TypeVar("T")


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("keys", help="create, list and revoke API keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print its token (shown once)")
    create.add_argument("name", help="who or what uses the key, e.g. pc-corte-01")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        dest="scopes",
        help="repeat for several (default: read and write)",
    )
    create.set_defaults(run=_create)
    listing = actions.add_parser("list", help="list keys (never their tokens)")
    listing.set_defaults(run=_list)
    revoke = actions.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key", help="the key's id or name")
    revoke.set_defaults(run=_revoke)


def _in_transaction(fn: Callable[[Connection], T]) -> T:
    from api.db.engine import build_engine, writing
    from api.db.migrate import ensure_current
    from fichas.settings import load_settings

    engine = build_engine(load_settings())
    try:
        ensure_current(engine)
        with writing(engine) as conn:
            return fn(conn)
    finally:
        engine.dispose()


def _create(args: argparse.Namespace) -> int:
    from api.auth.keys import issue
    from api.domain.errors import DomainError

    scopes = sorted(set(args.scopes or ["read", "write"]))
    try:
        row, token = _in_transaction(lambda conn: issue(conn, args.name, scopes))
    except DomainError as exc:
        print(f"fichas: {exc}")
        return 1
    print(f"key {row['id']} ({row['nome']}, scopes: {', '.join(scopes)}); token, shown once:")
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    from api.data import chaves

    rows = _in_transaction(lambda conn: chaves.page(conn, after=0, limit=10_000)[0])
    print(f"{'id':>4}  {'name':<24} {'prefix':<9} {'scopes':<18} {'created (UTC)':<17} revoked")
    for r in rows:
        revoked = r["revogado_em"].strftime("%Y-%m-%d %H:%M") if r["revogado_em"] else "-"
        created = r["criado_em"].strftime("%Y-%m-%d %H:%M")
        name, prefix, scopes = r["nome"], r["prefixo"], r["escopos"]
        print(f"{r['id']:>4}  {name:<24} {prefix:<9} {scopes:<18} {created:<17} {revoked}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from api.auth.revocations import announce
    from api.data import chaves
    from api.domain.errors import DomainError, NotFound
    from fichas.settings import load_settings

    def revoke(conn: Connection) -> str:
        row = chaves.by_name(conn, args.key)
        if row is None and args.key.isdigit():
            row = chaves.get(conn, int(args.key))
        if row is None:
            raise NotFound("key", args.key)
        return str(chaves.revoke(conn, row["id"])["nome"])

    try:
        name = _in_transaction(revoke)
    except DomainError as exc:
        print(f"fichas: {exc}")
        return 1
    print(f"revoked key {name}")
    failure = announce(load_settings().redis_url)
    if failure is not None:
        print(f"fichas: could not tell the instances through Redis ({failure}): the key may")
        print("still work on them for up to FICHAS_AUTH_CACHE_SECONDS")
    return 0
