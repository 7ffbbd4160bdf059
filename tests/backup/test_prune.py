"""``prune`` deletes what retention drops, manifest and data file, and nothing else."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from backup import manifest
from backup.job import run_backup
from backup.prune import prune
from backup.retention import Policy
from fichas.cli import main
from fichas.settings import Settings


def test_prune_keeps_the_newest_of_each_period(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = sqlite_settings.resolved_backup_dir
    real = run_backup(sqlite_settings).taken
    # Three more backups of the same file, dated two days, one day and one hour earlier.
    for name, back in (("old", timedelta(days=2)), ("day", timedelta(days=1)),
                       ("hour", timedelta(hours=1))):  # fmt: skip
        data = (directory / real.file).read_bytes()
        (directory / f"{name}.sqlite.zst").write_bytes(data)
        manifest.write(
            directory,
            replace(real, id=name, file=f"{name}.sqlite.zst", created_at=real.created_at - back),
        )
    unverified = replace(real, id="bad", file="bad.sqlite.zst", verified_at=None)
    (directory / "bad.sqlite.zst").write_bytes((directory / real.file).read_bytes())
    manifest.write(directory, unverified)

    assert main(["backup", "prune"]) == 0
    assert "deleted 1 (bad)" in capsys.readouterr().out
    assert {m.id for m in manifest.complete(directory)} == {real.id, "old", "day", "hour"}
    assert not (directory / "bad.sqlite.zst").exists()

    # Keeping one hourly and nothing else leaves the newest alone.
    only_newest = Policy(hourly=1, daily=0, weekly=0, monthly=0)
    assert set(prune(directory, only_newest)) == {"old", "day", "hour"}
    assert [m.id for m in manifest.complete(directory)] == [real.id]
    assert sorted(p.name for p in directory.iterdir()) == [".lock", f"{real.id}.json", real.file]


def test_each_kind_keeps_its_newest_whatever_the_other_kind_has(sqlite_settings: Settings) -> None:
    # One folder, both kinds: the SQLite schedule's backup, then a newer PostgreSQL dump (made
    # here as its manifest and file). Keeping one backup must keep one of each, not the newest
    # of all — a PostgreSQL dump is no backup of the SQLite database.
    directory = sqlite_settings.resolved_backup_dir
    sqlite_backup = run_backup(sqlite_settings).taken
    older = replace(sqlite_backup, id="older", file="older.sqlite.zst",
                    created_at=sqlite_backup.created_at - timedelta(hours=2))  # fmt: skip
    dump = replace(sqlite_backup, id="dump", kind="postgresql", file="dump.pgdump",
                   created_at=sqlite_backup.created_at + timedelta(hours=1))  # fmt: skip
    for copy in (older, dump):
        (directory / copy.file).write_bytes((directory / sqlite_backup.file).read_bytes())
        manifest.write(directory, replace(copy, sha256=sqlite_backup.sha256))

    only_newest = Policy(hourly=1, daily=0, weekly=0, monthly=0)
    assert prune(directory, only_newest) == ["older"]
    assert {m.id for m in manifest.complete(directory)} == {sqlite_backup.id, "dump"}
