"""The layers of docs/ARCHITECTURE.md hold: the import-linter contracts in pyproject.toml pass on
the code as it is, and fail on a copy of it with one import pointing the wrong way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("fichas", "api", "proxy", "backup", "loadtest", "observability")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages under ``root`` (first on the path, so a copy wins over the
    checkout the environment has installed)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        # the bottom reaching for the top: the layers contract
        ("api/domain/errors.py", "import fichas.cli.up", "Layers, top to bottom"),
        # the data layer reaching for a route: the layers contract again
        ("api/data/pedidos.py", "import api.routes.pedidos", "Layers, top to bottom"),
        # a route module using another's: the independence contract
        ("api/routes/tipos.py", "import api.routes.clientes", "Each resource's routes"),
        # production code loading the load-test chart library: the forbidden contract
        ("backup/job.py", "import matplotlib", "never loads the load-test tools"),
        # two modules of a package importing each other: the no-cycles contract
        ("api/db/engine.py", "import api.db.gateway", "No import cycles"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, wrong_import: str, broken: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    mutated = tmp_path / module
    mutated.write_text(mutated.read_text() + f"\n{wrong_import}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{broken}" in result.stdout
    assert "BROKEN" in result.stdout
