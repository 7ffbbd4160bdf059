"""``verify``: a sound backup passes; a flipped byte, a cut or missing file, or rows that do not
match the manifest fail it, each with a clear line (and ``fichas backup verify`` exits 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from backup import manifest
from backup.job import run_backup
from backup.manifest import Manifest
from backup.verify import verify
from fichas.cli import main
from fichas.settings import Settings


@pytest.fixture
def taken(sqlite_settings: Settings) -> Manifest:
    return run_backup(sqlite_settings).taken


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _remove(path: Path) -> None:
    path.unlink()


def test_a_fresh_backup_is_verified(sqlite_settings: Settings, taken: Manifest) -> None:
    assert taken.verified
    directory = sqlite_settings.resolved_backup_dir
    assert verify(directory, taken).ok
    assert manifest.read(directory, taken.id) == taken


@pytest.mark.parametrize(
    ("damage", "says"),
    [(_flip_a_byte, "does not match its SHA-256"), (_cut, "the manifest says"),
     (_remove, "is missing")],
    ids=["flipped-byte", "truncated", "missing"],
)  # fmt: skip
def test_damage_fails_verify_with_a_clear_message(
    sqlite_settings: Settings,
    taken: Manifest,
    damage: Callable[[Path], None],
    says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    directory = sqlite_settings.resolved_backup_dir
    damage(directory / taken.file)
    verdict = verify(directory, taken)
    assert not verdict.ok
    assert says in verdict.problems[0]
    assert main(["backup", "verify", taken.id]) == 1
    out = capsys.readouterr()
    assert f"{taken.id}: FAILED: " in out.out
    assert says in out.out
    assert "Traceback" not in out.out + out.err


def test_rows_that_differ_from_the_manifest_fail(
    sqlite_settings: Settings, taken: Manifest
) -> None:
    lying = replace(taken, row_counts={**taken.row_counts, "pedidos": 301})
    verdict = verify(sqlite_settings.resolved_backup_dir, lying)
    assert not verdict.ok
    assert "row counts" in verdict.problems[0]


def test_verify_without_an_id_checks_every_backup(
    sqlite_settings: Settings, taken: Manifest, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "verify"]) == 0
    assert capsys.readouterr().out == f"{taken.id}: ok\n"
