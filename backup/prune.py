"""``fichas backup prune``: delete the backups the retention policy does not keep."""

from __future__ import annotations

from pathlib import Path

from backup import manifest
from backup.retention import Policy, Snapshot, kept


def prune(directory: Path, policy: Policy) -> list[str]:
    """Delete what ``policy`` does not keep; the deleted ids. Call with the lock held.

    Each kind (SQLite snapshots, PostgreSQL dumps) is kept by the policy apart from the other:
    one folder may hold both (a move from one database to the other, or a PostgreSQL backup run
    by hand beside the SQLite schedule), and a dump of one database is no backup of the other —
    pooled, the newest of one kind pruned the other's only backup. So the newest verified backup
    of each kind is always kept.

    The manifest goes first: from that instant the backup is no longer listed, so a run killed
    halfway leaves at worst an orphan data file, never a manifest without its data.
    """
    manifests = manifest.every_manifest(directory)
    keep: set[str] = set()
    for kind in {m.kind for m in manifests}:
        keep |= kept(
            (Snapshot(m.id, m.created_at, m.verified and manifest.is_complete(directory, m))
             for m in manifests if m.kind == kind),
            policy,
        )  # fmt: skip
    deleted = [m for m in manifests if m.id not in keep]
    for gone in deleted:
        manifest.manifest_path(directory, gone.id).unlink(missing_ok=True)
        (directory / gone.file).unlink(missing_ok=True)
    return [m.id for m in deleted]
