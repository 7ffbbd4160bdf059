"""A data dir on a read-only or a full filesystem: one line saying so and what to do, never a
traceback. Real filesystems: a small tmpfs mounted for the test (the suite runs as root, as CI
does), remounted read-only or filled to the last byte."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import run_fichas


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs holding a migrated data dir; unmounted at the end, whatever happened."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], check=True)
    try:
        assert run_fichas(mount_point, "migrate").returncode == 0
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    return line


@pytest.mark.parametrize("verb", [["up", "--listen", "127.0.0.1:0"], ["restore", "--latest"]])
def test_a_read_only_data_dir_is_one_line(small_disk: Path, verb: list[str]) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    line = _one_line(run_fichas(small_disk, *verb))
    assert line.startswith(f"fichas: cannot write {small_disk}/"), line
    assert "(Read-only file system): the filesystem is mounted read-only: remount it" in line


def test_a_full_data_dir_is_one_line(small_disk: Path) -> None:
    filled = subprocess.run(
        ["dd", "if=/dev/zero", f"of={small_disk / 'filler'}", "bs=64k"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "No space left on device" in filled.stderr
    line = _one_line(run_fichas(small_disk, "up", "--listen", "127.0.0.1:0"))
    assert "(No space left on device): the disk is full: free some space" in line, line
