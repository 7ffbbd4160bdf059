"""``fichas migrate``: bring the database schema to this version's revision."""

from __future__ import annotations

import argparse


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("migrate", help="apply pending schema migrations")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fichas.cli.startup import apply_migrations
    from fichas.settings import load_settings

    print(apply_migrations(load_settings()))
    return 0
