"""The wheel runs outside the repository: built from the checkout, installed in a fresh virtual
environment elsewhere (its locked dependencies, without the development and load-test ones),
and run from a folder that is not the checkout — ``fichas up --observability`` finds its
Caddyfile template, Prometheus configuration, alert rules and Alertmanager templates inside the
installed packages (observability/bundled.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from loadtest.target import own_cluster
from tests.integration.test_up_observability import RECEIVERS

REPO = Path(__file__).resolve().parents[2]


def uv(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["uv", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh environment holding the wheel and its locked dependencies."""
    place = tmp_path_factory.mktemp("installed")
    uv("build", "--wheel", "--out-dir", str(place / "dist"))
    (wheel,) = (place / "dist").glob("fichas-*.whl")
    locked = place / "requirements.txt"
    uv("export", "--no-dev", "--no-emit-project", "--no-hashes", "--output-file", str(locked))
    uv("venv", "--python", sys.executable, str(place / "venv"), cwd=place)
    python = str(place / "venv" / "bin" / "python")
    uv("pip", "install", "--python", python, "-r", str(locked), cwd=place)
    uv("pip", "install", "--python", python, "--no-deps", str(wheel), cwd=place)
    return place / "venv" / "bin"


def test_the_installed_packages_are_the_wheels_not_the_checkout(installed: Path) -> None:
    where = (
        "import api, fichas, observability as o; print(api.__file__, fichas.__file__, o.__file__)"
    )
    done = subprocess.run(
        [str(installed / "python"), "-c", where],
        cwd=installed,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all("/site-packages/" in path for path in done.stdout.split())
    for shipped in ("alerting/rules/slo.yml", "alerting/templates", "grafana/dashboards"):
        assert list(
            (installed.parent / "lib").glob(f"python3*/site-packages/observability/{shipped}")
        )


def test_the_production_install_leaves_the_load_test_tools_out(installed: Path) -> None:
    version = subprocess.run(
        [str(installed / "fichas"), "--version"], capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"fichas \d+\.\d+\.\d+\n", version.stdout)
    loadtest = subprocess.run(
        [str(installed / "fichas"), "loadtest"], capture_output=True, text=True, check=False
    )
    assert loadtest.returncode == 2
    assert "pip install 'fichas[loadtest]'" in loadtest.stderr
    assert "Traceback" not in loadtest.stderr


def test_fichas_up_with_observability_runs_from_the_installed_wheel(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in RECEIVERS.items():
        monkeypatch.setenv(name, value)
    log = tmp_path / "cluster.log"
    fichas = [str(installed / "fichas")]
    with own_cluster(tmp_path, 1, log, up_options=["--observability"], fichas=fichas) as target:
        assert httpx2.get(f"{target.url}/health", timeout=5).status_code == 200
        urls = dict(
            re.findall(r"^  (prometheus|alertmanager) +(http://\S+)$", log.read_text(), re.M)
        )
        assert set(urls) == {"prometheus", "alertmanager"}, log.read_text()
        groups: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while not groups and time.monotonic() < deadline:  # the rules, read from the wheel
            groups = httpx2.get(f"{urls['prometheus']}/api/v1/rules", timeout=5).json()["data"][
                "groups"
            ]
            time.sleep(0.5)
        assert any("/site-packages/observability/alerting/rules/" in str(g["file"]) for g in groups)
        status = httpx2.get(f"{urls['alertmanager']}/api/v2/status", timeout=5).json()
        assert "notifications.tmpl" in status["config"]["original"]
        shown = subprocess.run(
            [*fichas, "status"],
            env={"FICHAS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        assert {"api-1", "caddy", "prometheus", "alertmanager"} <= set(
            re.findall(r"^(\S+) .* healthy", shown.stdout, re.M)
        ), shown.stdout
