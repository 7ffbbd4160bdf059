"""The ``fichas`` command: one module per verb, each adding its own sub-parser.

The top layer (docs/ARCHITECTURE.md). A verb module imports at the top only ``argparse``, the
standard library and modules that load nothing else (``api.domain``, ``fichas.processes``); what
its action needs (pydantic, SQLAlchemy, the app, the cluster) it imports when the action runs, so
that ``fichas --version`` or ``fichas status`` never load what they do not use
(docs/BENCHMARKS.md, "CLI start-up").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fichas.cli import (
    alert,
    backup,
    demo_data,
    keys,
    loadtest,
    migrate,
    restore,
    serve,
    status,
    top,
    up,
)
from fichas.cli.private_files import owner_only

VERBS = (up, status, top, serve, migrate, keys, demo_data, loadtest, backup, restore, alert)


class _Version(argparse.Action):
    """``--version``, reading the package metadata only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from fichas import __version__

        print(f"fichas {__version__}")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fichas",
        description="Fichas: production orders for small factories. "
        "Settings come from FICHAS_* environment variables (see the README).",
    )
    parser.add_argument("--version", action=_Version)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever the umask of whoever runs it, what fichas and the processes it starts create is
    # the owner's alone: one umask here serves every file (see fichas/cli/private_files.py).
    with owner_only():
        args = build_parser().parse_args(argv)
        try:
            result: int = args.run(args)
        except Exception as exc:
            from fichas.cli.failures import operator_problem

            if (problem := operator_problem(exc)) is None:
                raise
            print(f"fichas: {problem}", file=sys.stderr)
            return 2
        return result
