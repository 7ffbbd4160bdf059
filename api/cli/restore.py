"""``fichas restore ID [--to PATH] [--force]``: put a backup back (see ``backup.restore``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.settings import load_settings
from backup.manifest import BackupError
from backup.restore import RestoreRefused, restore


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("restore", help="restore the database from a backup")
    parser.add_argument("id", help="the backup (see `fichas backup list`)")
    parser.add_argument("--to", type=Path, help="restore into this file instead of the database")
    parser.add_argument(
        "--force", action="store_true", help="restore even while a running cluster uses it"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        done = restore(load_settings(), args.id, to=args.to, force=args.force)
    except RestoreRefused as exc:
        print(f"fichas: refused: {exc}", file=sys.stderr)
        return 1
    except BackupError as exc:
        print(f"fichas: restore failed: {exc}; nothing was changed", file=sys.stderr)
        return 1
    print(f"checked backup {done.backup_id}: checksum, integrity_check and row counts match")
    if done.previous_unreadable:
        print(f"moved the unreadable database it replaces aside as {done.previous}")
    elif done.previous is not None:
        print(f"saved the database it replaces as {done.previous}")
    rows = ", ".join(f"{table} {count:,}" for table, count in sorted(done.row_counts.items()))
    print(f"restored {done.target} (schema revision {done.schema_revision}): {rows}")
    if done.cache != "none":
        print(f"the instances' Redis cache: {done.cache}")
    return 0
