"""One backup run, as ``fichas backup run`` and the scheduler do it: snapshot, verify, copy
offsite, prune; the steps in that order so that only verified backups leave the machine and
pruning never runs before the new backup is known to be good."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from api.db.engine import is_sqlite
from backup import manifest, offsite, postgres, snapshot, store
from backup.manifest import BackupError, Manifest
from backup.prune import prune
from backup.retention import Policy
from backup.verify import verify
from fichas.settings import Settings


@dataclass
class Report:
    taken: Manifest
    offsite_copy: Path | None = None
    pruned: list[str] = field(default_factory=list)


def run_backup(settings: Settings) -> Report:
    """Take and check one backup; BackupError (the snapshot left unverified) if it is bad."""
    directory = settings.resolved_backup_dir
    policy = Policy.from_settings(settings)
    with store.locked(directory):
        store.sweep_leftovers(directory)
        take = snapshot.take if is_sqlite(settings) else postgres.take
        taken = take(settings, directory)
        verdict = verify(directory, taken)
        if not verdict.ok:
            raise BackupError(
                f"backup {taken.id} failed verification: {'; '.join(verdict.problems)}"
            )
        taken = taken.mark_verified(datetime.now(UTC))
        manifest.write(directory, taken)
        report = Report(taken, pruned=prune(directory, policy))
    if settings.backup_offsite_dir is not None:
        with store.locked(settings.backup_offsite_dir):
            store.sweep_leftovers(settings.backup_offsite_dir)
            report.offsite_copy = offsite.copy(directory, taken, settings.backup_offsite_dir)
            prune(settings.backup_offsite_dir, policy)
    return report
