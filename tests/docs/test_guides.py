"""The guides' examples are run: every ```sh runnable block of README.md and docs/*.md, in
order, one bash per document, against a live cluster (``fichas up`` on demo data), with
``$API`` and ``$ADMIN`` set as the guides say to set them. An example that drifts from what the
system does fails here (they check their answers with ``jq -e``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.target import Target, own_cluster

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = re.compile(r"^```sh runnable\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def runnable_blocks(text: str) -> list[str]:
    return RUNNABLE.findall(text)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Path]]:
    directory = tmp_path_factory.mktemp("guides")
    with own_cluster(directory / "data", 2, directory / "cluster.log") as target:
        yield target, directory


def test_the_guides_have_examples_to_run() -> None:
    with_examples = [g.name for g in GUIDES if runnable_blocks(g.read_text())]
    assert "USER_GUIDE.md" in with_examples


@pytest.mark.parametrize("guide", [g for g in GUIDES if runnable_blocks(g.read_text())],
                         ids=lambda g: g.name)  # fmt: skip
def test_every_runnable_example_works(guide: Path, cluster: tuple[Target, Path]) -> None:
    if shutil.which("jq") is None:
        pytest.fail("jq is missing: the guides' examples use it (.ci/run installs it)")
    target, directory = cluster
    env = {
        **os.environ,
        "API": target.url,
        "ADMIN": target.admin_key,
        "FICHAS_DATA_DIR": str(directory / "data"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # fichas
    }
    script = "set -euo pipefail\n" + "\n".join(runnable_blocks(guide.read_text()))
    done = subprocess.run(["bash", "-c", script], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, f"{guide.name}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
