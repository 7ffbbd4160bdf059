"""The ``fichas`` command: one module per verb, each adding its own sub-parser."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from api import __version__
from api.cli import backup, demo_data, keys, loadtest, migrate, restore, serve, status, up
from api.cli.disk import write_problem
from api.cli.private_files import owner_only
from api.db.engine import StorageError, database_problem
from api.settings import SettingsError

VERBS = (up, status, serve, migrate, keys, demo_data, loadtest, backup, restore)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fichas",
        description="Fichas: production orders for small factories. "
        "Settings come from FICHAS_* environment variables (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"fichas {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever the umask of whoever runs it, what fichas and the processes it starts create is
    # the owner's alone: one umask here serves every file (see api/cli/private_files.py).
    with owner_only():
        args = build_parser().parse_args(argv)
        try:
            result: int = args.run(args)
        except (SettingsError, StorageError) as exc:
            print(f"fichas: {exc}", file=sys.stderr)
            return 2
        except DBAPIError as exc:  # unreadable, unreachable, read-only: the operator's to fix
            print(f"fichas: {database_problem(exc)}", file=sys.stderr)
            return 2
        except OSError as exc:  # a read-only or full disk, a folder not ours: theirs to fix
            if (problem := write_problem(exc)) is None:
                raise
            print(f"fichas: {problem}", file=sys.stderr)
            return 2
        return result
