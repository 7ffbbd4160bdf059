"""``fichas backup run`` and ``list`` print sizes a person reads at a glance: a small database
is "106 kB → 1.9 kB", never "0.1 MB → 0.0 MB"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backup import manifest
from fichas.cli import main
from fichas.cli.backup import human_size

_SIZE = r"(\d+(?:\.\d)?) (B|kB|MB|GB|TB)"
_FACTOR = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (812, "812 B"), (999, "999 B"), (1000, "1.0 kB"), (45_300, "45.3 kB"),
     (99_949, "99.9 kB"), (99_950, "100 kB"), (812_400, "812 kB"), (999_499, "999 kB"),
     (999_500, "1.0 MB"), (12_400_000, "12.4 MB"), (3_210_000_000, "3.2 GB"),
     (5_000_000_000_000, "5.0 TB"), (1_234_000_000_000_000, "1234 TB")],
)  # fmt: skip
def test_sizes_are_in_the_unit_that_reads_best(size: int, shown: str) -> None:
    assert human_size(size) == shown


def _read_size(text: str) -> tuple[float, str]:
    match = re.fullmatch(_SIZE, text.strip())
    assert match, f"not a size: {text!r}"
    return float(match[1]), match[2]


def _assert_shows(text: str, size: int) -> None:
    """``text`` is ``size`` in the largest unit that keeps the number from 1 to under 1000,
    rounded to what it shows: read back, not compared with the function's own output."""
    number, unit = _read_size(text)
    assert 1 <= number < 1000 or (unit == "B" and size == 0), text
    decimals = len(text.split()[0].partition(".")[2])
    assert abs(number * _FACTOR[unit] - size) <= 0.5 * 10**-decimals * _FACTOR[unit], (text, size)


def test_backup_run_and_list_print_readable_sizes(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["backup", "run"]) == 0
    [taken] = manifest.complete(data_dir / "backups")
    # A fresh database is some 100 kB, its compressed snapshot a few kB: in MB both were 0.x.
    assert taken.stored_bytes < 50_000

    first_line = capsys.readouterr().out.splitlines()[0]
    match = re.match(rf"backup {taken.id}: (?P<raw>{_SIZE}) → (?P<stored>{_SIZE}) in ", first_line)
    assert match, first_line
    _assert_shows(match["raw"], taken.raw_bytes)
    _assert_shows(match["stored"], taken.stored_bytes)

    assert main(["backup", "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    columns = {name: header.index(name) for name in ("database", "stored")}
    # Right-aligned under their headings: each value ends where its heading does.
    raw = row[: columns["database"] + len("database")].split(maxsplit=2)[2]
    stored = row[columns["database"] + len("database") : columns["stored"] + len("stored")]
    _assert_shows(raw, taken.raw_bytes)
    _assert_shows(stored, taken.stored_bytes)
