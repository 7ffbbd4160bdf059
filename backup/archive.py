"""Streaming zstd compression with the SHA-256 of the compressed bytes, and the way back.

Streaming in 1 MiB chunks keeps memory flat whatever the database's size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import zstandard

from backup.manifest import BackupError
from backup.progress import Progress

CHUNK = 1 << 20
# Level 3 (zstd's default): measured on the benchmark database it packs within a few percent
# of level 9 at several times the speed; the snapshot is done sooner and writes nothing anyway.
LEVEL = 3


def compress(source: Path, target: Path) -> tuple[int, str]:
    """Write ``source`` zstd-compressed to ``target``; (compressed size, its SHA-256)."""
    digest = hashlib.sha256()
    size = 0
    # write_checksum: the frame carries its own checksum too, so even a copy made without the
    # manifest (an offsite file alone) is checked when decompressed.
    packer = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True).compressobj()
    with (
        source.open("rb") as reading,
        target.open("wb") as writing,
        Progress("compressing", source.stat().st_size) as progress,
    ):

        def emit(data: bytes) -> None:
            nonlocal size
            digest.update(data)
            writing.write(data)
            size += len(data)

        while chunk := reading.read(CHUNK):
            emit(packer.compress(chunk))
            progress.advance(len(chunk))
        emit(packer.flush())
    return size, digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reading:
        while chunk := reading.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def decompress(source: Path, target: Path) -> None:
    """Unpack ``source`` into ``target``; BackupError if it is not a whole zstd stream."""
    try:
        with (
            source.open("rb") as reading,
            target.open("wb") as writing,
            Progress("decompressing", source.stat().st_size) as progress,
        ):
            unpacker = zstandard.ZstdDecompressor().decompressobj()
            while chunk := reading.read(CHUNK):
                writing.write(unpacker.decompress(chunk))
                progress.advance(len(chunk))
            if not unpacker.eof:
                raise BackupError(f"{source.name} ends early: the compressed stream is cut short")
    except zstandard.ZstdError as exc:
        raise BackupError(f"{source.name} does not decompress: {exc}") from None
