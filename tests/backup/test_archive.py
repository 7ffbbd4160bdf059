"""Compression: round trip with the checksum of what is stored; damage is an error, not a crash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from backup.archive import compress, decompress, sha256_of
from backup.manifest import BackupError


@pytest.fixture
def packed(tmp_path: Path) -> tuple[Path, bytes]:
    original = os.urandom(1 << 20) + b"fichas " * 500_000  # some noise, mostly repetition
    (tmp_path / "plain").write_bytes(original)
    size, digest = compress(tmp_path / "plain", tmp_path / "plain.zst")
    stored = (tmp_path / "plain.zst").read_bytes()
    assert size == len(stored) < len(original) / 2
    assert digest == hashlib.sha256(stored).hexdigest() == sha256_of(tmp_path / "plain.zst")
    return tmp_path / "plain.zst", original


def test_round_trip(packed: tuple[Path, bytes], tmp_path: Path) -> None:
    decompress(packed[0], tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == packed[1]


def test_a_cut_stream_is_reported(packed: tuple[Path, bytes], tmp_path: Path) -> None:
    stored = packed[0].read_bytes()
    packed[0].write_bytes(stored[: len(stored) // 2])
    with pytest.raises(BackupError, match="ends early"):
        decompress(packed[0], tmp_path / "back")


def test_damage_is_reported(packed: tuple[Path, bytes], tmp_path: Path) -> None:
    stored = bytearray(packed[0].read_bytes())
    stored[len(stored) // 2] ^= 0xFF
    packed[0].write_bytes(bytes(stored))
    with pytest.raises(BackupError, match="does not decompress"):
        decompress(packed[0], tmp_path / "back")
