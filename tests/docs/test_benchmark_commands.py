"""Every benchmark starts the way docs/BENCHMARKS.md and its own docstring say to run it.

The scripts are not run in full here (minutes each, and their figures are for BENCHMARKS.md,
not assertions); their ``--help`` is: it imports the whole script with what it measures, which
is where they broke before — run as files, ``benchmarks/backup.py`` stood in for the ``backup``
package of anything they imported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The scripts; the other modules there (benchmarks/in_process.py) are what they share.
SCRIPTS = sorted(
    p for p in (ROOT / "benchmarks").glob("*.py") if 'if __name__ == "__main__":' in p.read_text()
)
COMMAND = re.compile(r"uv run python (-m benchmarks\.\w+|\S+\.py)")


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_a_benchmark_starts_as_documented(script: Path) -> None:
    module = f"benchmarks.{script.stem}"
    assert f"uv run python -m {module}" in script.read_text(), "its docstring says how to run it"
    started = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("usage:")


def test_the_benchmark_commands_in_the_docs_name_benchmarks_that_exist() -> None:
    documented = COMMAND.findall((ROOT / "docs" / "BENCHMARKS.md").read_text())
    assert documented, "BENCHMARKS.md says how its figures were measured"
    modules = {f"-m benchmarks.{s.stem}" for s in SCRIPTS}
    assert sorted(set(documented) - modules) == []
