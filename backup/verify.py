"""``fichas backup verify``: is a backup whole, and would it restore to what it recorded?

Checks, in order: the data file is there at its recorded size, its SHA-256 matches, and then
for SQLite the unpacked file passes ``integrity_check`` and holds the recorded row counts (for
PostgreSQL, ``pg_restore --list`` reads the archive). Every problem is reported as a line of
text, never as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backup import postgres, sqlite, store
from backup.archive import decompress, sha256_of
from backup.manifest import BackupError, Manifest


@dataclass
class Verdict:
    backup_id: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(directory: Path, manifest: Manifest) -> Verdict:
    """Check one backup; call with the directory's lock held (it unpacks a ``.tmp`` there)."""
    verdict = Verdict(manifest.id)
    data = directory / manifest.file
    verdict.problems = file_problems(data, manifest)
    if verdict.ok:
        if manifest.kind == "sqlite":
            verdict.problems = _sqlite_problems(data, manifest)
        else:
            verdict.problems = postgres.archive_problems(data)
    return verdict


def file_problems(data: Path, manifest: Manifest) -> list[str]:
    """Missing, truncated or altered: what the manifest alone can tell."""
    if not data.is_file():
        return [f"{data.name} is missing"]
    size = data.stat().st_size
    if size != manifest.stored_bytes:
        return [f"{data.name} is {size:,} bytes, the manifest says {manifest.stored_bytes:,}"]
    if sha256_of(data) != manifest.sha256:
        return [f"{data.name} does not match its SHA-256: the file was altered or damaged"]
    return []


def unpacked_problems(unpacked: Path, manifest: Manifest) -> list[str]:
    """An unpacked SQLite snapshot is sound and holds what the manifest recorded."""
    problems = [f"integrity_check: {p}" for p in sqlite.integrity_problems(unpacked)[:5]]
    if problems:
        return problems
    counts = sqlite.row_counts(unpacked)
    if counts != manifest.row_counts:
        return [f"row counts {counts} differ from the manifest's {manifest.row_counts}"]
    return []


def _sqlite_problems(data: Path, manifest: Manifest) -> list[str]:
    unpacked = data.with_name(f"{manifest.id}.verify{store.TEMPORARY}")
    try:
        decompress(data, unpacked)
        return unpacked_problems(unpacked, manifest)
    except BackupError as exc:
        return [str(exc)]
    finally:
        unpacked.unlink(missing_ok=True)
