"""``fichas migrate``: bring the database schema to this version's revision."""

from __future__ import annotations

import argparse

from api.db import migrate
from api.db.engine import build_engine
from api.settings import Settings, load_settings


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("migrate", help="apply pending schema migrations")
    parser.set_defaults(run=run)


def apply_migrations(settings: Settings) -> str:
    """Upgrade the configured database; a line saying what happened."""
    engine = build_engine(settings)
    try:
        before, after = migrate.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        return f"schema already at revision {after}"
    return f"schema migrated from {before or 'empty'} to {after}"


def run(args: argparse.Namespace) -> int:
    print(apply_migrations(load_settings()))
    return 0
