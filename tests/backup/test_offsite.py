"""The offsite copy: each verified backup lands whole in the second folder, which is a backup
directory of its own (listed, verified and pruned like the first)."""

from __future__ import annotations

from pathlib import Path

from backup import manifest
from backup.job import run_backup
from backup.verify import verify
from fichas.settings import Settings


def test_each_verified_backup_is_copied_offsite(sqlite_settings: Settings, tmp_path: Path) -> None:
    nas = tmp_path / "nas" / "fichas"
    settings = sqlite_settings.model_copy(update={"backup_offsite_dir": nas})
    first = run_backup(settings)
    assert first.offsite_copy == nas / first.taken.file
    assert manifest.complete(nas) == [first.taken]
    assert verify(nas, first.taken).ok

    second = run_backup(settings)  # the same hour: retention keeps the newer, offsite too
    assert [m.id for m in manifest.complete(nas)] == [second.taken.id]
    assert not list(nas.glob("*.tmp"))
