"""``fichas restore ID | --latest | --at TIME [--to PATH] [--force]``: put the database back from
a snapshot or from Litestream's replica (see ``backup.restore``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("restore", help="restore the database from the replica or a backup")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("id", nargs="?", help="a snapshot (see `fichas backup list`)")
    source.add_argument(
        "--latest", action="store_true", help="the replica's newest state (about 1 s old)"
    )
    source.add_argument(
        "--at",
        metavar="TIME",
        help="the replica's state at TIME: '2026-12-01 14:03:00' in the factory's time zone "
        "(FICHAS_TIMEZONE), or '2026-12-01T17:03:00Z' in UTC",
    )
    parser.add_argument("--to", type=Path, help="restore into this file instead of the database")
    parser.add_argument(
        "--force", action="store_true", help="restore even while a running cluster uses it"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from backup.manifest import BackupError
    from backup.replication import point_in_time
    from backup.restore import RestoreRefused, restore, restore_from_replica
    from fichas.settings import load_settings

    settings = load_settings()
    try:
        if args.id is not None:
            done = restore(settings, args.id, to=args.to, force=args.force)
        else:
            at = None if args.latest else point_in_time(args.at, settings.timezone)
            done = restore_from_replica(settings, at=at, to=args.to, force=args.force)
    except ValueError as exc:
        print(f"fichas: {exc}", file=sys.stderr)
        return 2
    except RestoreRefused as exc:
        print(f"fichas: refused: {exc}", file=sys.stderr)
        return 1
    except BackupError as exc:
        print(f"fichas: restore failed: {exc}; nothing was changed", file=sys.stderr)
        return 1
    print(f"checked {done.checked}")
    if done.previous_unreadable:
        print(f"moved the unreadable database it replaces aside as {done.previous}")
    elif done.previous is not None:
        print(f"saved the database it replaces as {done.previous}")
    rows = ", ".join(f"{table} {count:,}" for table, count in sorted(done.row_counts.items()))
    print(f"restored {done.target} (schema revision {done.schema_revision}): {rows}")
    if done.cache != "none":
        print(f"the instances' Redis cache: {done.cache}")
    return 0
