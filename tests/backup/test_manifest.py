"""Manifests: round trip, sortable ids, and which backups count as complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup import manifest
from backup.manifest import BackupError, Manifest


def _manifest(directory: Path, at: datetime, data: bytes = b"x" * 10) -> Manifest:
    backup_id = manifest.new_id(at)
    (directory / f"{backup_id}.sqlite.zst").write_bytes(data)
    made = Manifest(
        id=backup_id, kind="sqlite", file=f"{backup_id}.sqlite.zst", created_at=at,
        raw_bytes=100, stored_bytes=10, sha256="0" * 64, engine_version="SQLite 3.53.0",
        schema_revision="0001", row_counts={"pedidos": 3}, duration_seconds=0.5,
    )  # fmt: skip
    manifest.write(directory, made)
    return made


def test_a_manifest_reads_back_as_written(tmp_path: Path) -> None:
    made = _manifest(tmp_path, datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC))
    verified = made.mark_verified(datetime(2026, 5, 1, 12, 0, 1, tzinfo=UTC))
    manifest.write(tmp_path, verified)
    assert manifest.read(tmp_path, made.id) == verified
    assert made.id == "20260501T120000.123Z"
    assert not list(tmp_path.glob("*.tmp"))


def test_ids_sort_in_time_order() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(milliseconds=n * 37, days=n) for n in range(50)]
    ids = [manifest.new_id(at) for at in moments]
    assert sorted(ids) == ids
    assert len(set(ids)) == len(ids)


def test_only_backups_whose_data_file_is_whole_are_complete(tmp_path: Path) -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    whole = _manifest(tmp_path, start)
    truncated = _manifest(tmp_path, start + timedelta(hours=1), data=b"x" * 4)
    missing = _manifest(tmp_path, start + timedelta(hours=2))
    (tmp_path / missing.file).unlink()
    (tmp_path / "20260501T130000.000Z.json.tmp").write_text("{half a manif")
    (tmp_path / "notes.json").write_text("not a manifest")
    assert [m.id for m in manifest.complete(tmp_path)] == [whole.id]
    assert [m.id for m in manifest.every_manifest(tmp_path)] == [whole.id, truncated.id, missing.id]
    assert manifest.newest_verified(tmp_path) is None


def test_an_unknown_id_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no backup nope"):
        manifest.read(tmp_path, "nope")
