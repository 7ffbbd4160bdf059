"""``fichas backup run`` on SQLite: an online snapshot, checked, compressed, with its manifest.

Order matters for crash safety: the copy and the compressed file are ``.tmp`` files until the
compressed file is renamed into place, and the manifest is written (atomically) after that, so a
run killed at any point leaves nothing that looks like a backup.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from backup import manifest, sqlite, store
from backup.archive import compress
from backup.manifest import BackupError, Manifest
from fichas.settings import Settings

SUFFIX = ".sqlite.zst"


def take(settings: Settings, directory: Path) -> Manifest:
    """Snapshot the database into ``directory``; call with the directory's lock held."""
    database = sqlite.database_file(settings)
    if not database.exists():
        raise BackupError(f"{database} does not exist: nothing to back up (run `fichas migrate`)")
    started, created_at = time.monotonic(), datetime.now(UTC)
    backup_id = manifest.new_id(created_at)
    copied = directory / f"{backup_id}.sqlite{store.TEMPORARY}"
    packed = directory / f"{backup_id}{SUFFIX}"
    try:
        sqlite.copy(database, copied, settings.db_busy_timeout_ms)
        problems = sqlite.integrity_problems(copied)
        if problems:
            raise BackupError(f"the snapshot fails integrity_check: {'; '.join(problems[:5])}")
        counts, revision = sqlite.row_counts(copied), sqlite.schema_revision(copied)
        raw_bytes = copied.stat().st_size
        stored_bytes, digest = compress(copied, store.temporary(packed))
    finally:
        copied.unlink(missing_ok=True)
    store.publish(store.temporary(packed), packed)
    taken = Manifest(
        id=backup_id,
        kind="sqlite",
        file=packed.name,
        created_at=created_at,
        raw_bytes=raw_bytes,
        stored_bytes=stored_bytes,
        sha256=digest,
        engine_version=f"SQLite {sqlite.library_version()}",
        schema_revision=revision,
        row_counts=counts,
        duration_seconds=round(time.monotonic() - started, 3),
    )
    manifest.write(directory, taken)
    return taken
