"""A snapshot's manifest: what it holds and how to check it.

A backup is ``<id>.json`` beside its data file. The manifest is written last, so a backup
exists only once its manifest does and the data file beside it has the recorded size.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from backup.store import write_atomically

Kind = Literal["sqlite", "postgresql"]


class BackupError(Exception):
    """A backup operation could not be done; the message says why and what to do."""


def new_id(at: datetime) -> str:
    """Sortable and readable: 20260501T120000.123Z (milliseconds: two runs in a second)."""
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Manifest:
    id: str
    kind: Kind
    file: str  # the data file's name, beside the manifest
    created_at: datetime  # UTC, when the snapshot began: it holds everything committed before
    raw_bytes: int  # the database as copied (SQLite file; PostgreSQL: pg_database_size)
    stored_bytes: int  # the data file (compressed)
    sha256: str  # of the data file
    engine_version: str  # the SQLite library that took it, or pg_dump's version
    schema_revision: str | None  # Alembic's
    row_counts: dict[str, int]
    duration_seconds: float
    verified_at: datetime | None = field(default=None)

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    def mark_verified(self, at: datetime) -> Manifest:
        return replace(self, verified_at=at)

    def to_json(self) -> bytes:
        data: dict[str, Any] = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["verified_at"] = self.verified_at.isoformat() if self.verified_at else None
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        if data.get("verified_at"):
            data["verified_at"] = datetime.fromisoformat(data["verified_at"])
        return cls(**data)


def manifest_path(directory: Path, backup_id: str) -> Path:
    return directory / f"{backup_id}.json"


def write(directory: Path, manifest: Manifest) -> None:
    write_atomically(manifest_path(directory, manifest.id), manifest.to_json())


def read(directory: Path, backup_id: str) -> Manifest:
    path = manifest_path(directory, backup_id)
    try:
        return Manifest.from_json(path.read_text())
    except FileNotFoundError:
        raise BackupError(
            f"no backup {backup_id} in {directory} (see `fichas backup list`)"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise BackupError(f"the manifest {path} is unreadable: {exc}") from None


def every_manifest(directory: Path) -> list[Manifest]:
    """Every readable manifest, oldest first, whether or not its data file is still whole."""
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            found.append(Manifest.from_json(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            continue  # not ours, or being replaced right now: never a backup
    return sorted(found, key=lambda m: m.created_at)


def is_complete(directory: Path, manifest: Manifest) -> bool:
    """Its data file is there at the recorded size (the checksum is ``verify``'s job)."""
    data = directory / manifest.file
    return data.is_file() and data.stat().st_size == manifest.stored_bytes


def complete(directory: Path) -> list[Manifest]:
    """The backups ``list`` shows, oldest first."""
    return [m for m in every_manifest(directory) if is_complete(directory, m)]


def newest_verified(directory: Path) -> Manifest | None:
    verified = [m for m in complete(directory) if m.verified]
    return verified[-1] if verified else None
