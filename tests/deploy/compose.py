"""docker-compose.yml as the tests read it: parsed (YAML anchors and merge keys resolved), its
services, bind mounts and ``${VARIABLE}`` references, and .env.example's values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

# Compose's interpolation: $$ (a literal $), ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}. Hand-written: these few forms are all the file uses, and the
# alternative is running the docker compose binary, which CI does not have.
REFERENCE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return compose


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load()["services"]
    return found


def interpolate(value: str, variables: dict[str, str]) -> str:
    """``value`` as compose would pass it on, given these variables; KeyError for a required
    one that is missing or empty."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = variables.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op is not None and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op is not None and op.endswith("-") and unset:
            return arg
        return value or ""

    return REFERENCE.sub(replace, value)


def references(text: str) -> set[str]:
    """The names of the variables ``text`` refers to."""
    return {m.group("name") for m in REFERENCE.finditer(text) if m.group("name")}


def strings(node: object) -> list[str]:
    """Every string value (and mapping key) in a parsed document: what compose interpolates,
    which the comments are not."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [*strings(key), *strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def env_example() -> dict[str, str]:
    """.env.example's assignments, the commented-out ones too (``# NAME=value``)."""
    assignments = re.finditer(r"^#? ?([A-Z][A-Z0-9_]*)=(\S*)", ENV_EXAMPLE.read_text(), re.M)
    return {m.group(1): m.group(2) for m in assignments}


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source on the host, target in the container) of each bind mount (short syntax)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith(("./", "/")):
            mounts.append((source, target))
    return mounts


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """Where in the repository a path inside ``service``'s container comes from."""
    for source, target in bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return REPO / source / container_path[len(target) :].lstrip("/")
    raise LookupError(f"no bind mount holds {container_path}")
