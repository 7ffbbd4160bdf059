"""docker-compose.yml keeps the stack's rules: pinned images, health checks, dependencies
waited for until healthy, restart policies, secrets from .env only, mounts that exist."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from deploy.compose_caddyfile import COMPOSE_PROXY, INSTANCES
from tests.deploy.compose import (
    ENV_EXAMPLE,
    REPO,
    bind_mounts,
    env_example,
    interpolate,
    load,
    references,
    services,
    strings,
)

# One-shot jobs: they run to completion, so there is no health to check; what waits for them
# waits for their success instead.
JOBS = {"alertmanager-config"}
# Host paths outside the repository a service may mount, and why.
HOST_PATHS = {"/var/run/docker.sock"}  # Alloy reads the containers' logs through the Docker API
PINNED = re.compile(r"^[\w./-]+:v?\d+(\.\d+)+[\w.-]*$")  # name:1.2[.3][-variant], no digest
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def built_from_project(service: dict[str, Any]) -> bool:
    build = service.get("build", {})
    return bool(build) and build.get("context") == "." and "dockerfile" not in build


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = service["image"]  # built ones too: compose tags what it builds
        assert PINNED.match(image), f"{name}: {image} is not pinned to a version"
        base = service.get("build", {}).get("args", {}).get("BASE")
        if base is not None:
            assert PINNED.match(base), f"{name}: base image {base} is not pinned"
            assert image.rpartition(":")[2] == base.rpartition(":")[2].lstrip("v"), name
        elif built_from_project(service):
            assert image.endswith(f":{VERSION}"), f"{name}: {image} is not the project's version"


def test_every_service_has_a_health_check_and_jobs_say_they_have_none() -> None:
    for name, service in services().items():
        check = service.get("healthcheck")
        assert check is not None, f"{name} has no health check"
        if name in JOBS:
            assert check == {"disable": True}, name
        elif "test" not in check:
            # Timings only: the test is the image's own HEALTHCHECK (tests/deploy/test_dockerfile).
            assert built_from_project(service), f"{name}: a health check without a test"
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_every_dependency_is_waited_for_until_healthy() -> None:
    everything = services()
    for name, service in everything.items():
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in everything, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency in JOBS else "service_healthy"
            assert how["condition"] == expected, f"{name} → {dependency}: {how}"
            if "profiles" in everything[dependency]:
                # Without its profile the dependency does not exist; compose must not insist.
                assert how.get("required") is False, f"{name} → {dependency}"


def test_every_service_has_a_restart_policy() -> None:
    for name, service in services().items():
        expected = {"on-failure"} if name in JOBS else {"unless-stopped", "always"}
        assert service.get("restart") in expected, f"{name}: restart {service.get('restart')}"


def test_secrets_come_from_variables_never_literals() -> None:
    for name, service in services().items():
        for key, value in service.get("environment", {}).items():
            text = str(value)
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert text.startswith("${"), f"{name}: {key} is a literal"
            userinfo = re.search(r"://([^@/]*)@", text)
            if userinfo and ":" in userinfo.group(1):
                password = userinfo.group(1).partition(":")[2]
                assert password.startswith("${"), f"{name}: {key} has a password in it"
    for secret, source in load().get("secrets", {}).items():
        assert set(source) == {"environment"}, f"secret {secret} must come from the environment"


def test_every_variable_is_documented_in_env_example_and_env_is_never_committed() -> None:
    documented = env_example()
    used = {name for text in strings(load()) for name in references(text)}
    secrets = {source["environment"] for source in load().get("secrets", {}).values()}
    undocumented = (used | secrets) - set(documented)
    assert not undocumented, f"add to {ENV_EXAMPLE.name}: {sorted(undocumented)}"
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def test_the_example_environment_is_complete_once_its_secrets_are_filled_in() -> None:
    example = env_example()
    filled = {k: v or f"filled-{k.lower()}" for k, v in example.items()}
    text = "\n".join(strings(load()))
    interpolate(text, filled)  # raises on a required variable it lacks
    required = {m for m in references(text) if f"${{{m}:?" in text}
    empty = sorted(name for name in required if not example.get(name))
    assert empty == ["GRAFANA_ADMIN_PASSWORD", "REDIS_PASSWORD"], (
        "secrets are left for the operator to choose; everything else required has an example"
    )
    with pytest.raises(KeyError, match="REDIS_PASSWORD"):
        interpolate(text, {k: v for k, v in filled.items() if k != "REDIS_PASSWORD"})


def test_every_bind_mount_exists_in_the_repository() -> None:
    for name, service in services().items():
        for source, target in bind_mounts(service):
            if source.startswith("/"):
                assert source in HOST_PATHS, f"{name} mounts {source} of the host"
            else:
                assert (REPO / source).exists(), f"{name}: {source} (→ {target}) is missing"


def test_addresses_name_services_of_the_stack() -> None:
    everything = services()
    text = "\n".join(strings(load()))
    for host in re.findall(r"(?:://|@)([a-z][a-z0-9-]*):\d+", text):
        assert host in everything, f"{host} is not a service"


def test_the_api_instances_are_one_definition_and_the_proxy_upstreams() -> None:
    everything = services()
    instances = sorted(n for n in everything if re.fullmatch(r"api-\d+", n))
    assert tuple(instances) == INSTANCES
    assert COMPOSE_PROXY.upstreams == [f"{name}:8000" for name in instances]
    definitions = [
        {
            k: v
            for k, v in everything[n].items()
            if k not in ("command", "environment", "depends_on")
        }
        for n in instances
    ]
    assert all(d == definitions[0] for d in definitions)
    environments = [dict(everything[n]["environment"]) for n in instances]
    assert [e.pop("FICHAS_INSTANCE") for e in environments] == instances
    assert all(e == environments[0] for e in environments)
    assert environments[0]["FICHAS_LISTEN"].endswith(":8000")
    # The first migrates and creates the admin key; the rest wait for it.
    assert everything["api-1"]["command"] == ["serve", "--migrate"]
    for other in instances[1:]:
        assert "command" not in everything[other]
        assert everything[other]["depends_on"]["api-1"] == {"condition": "service_healthy"}


def test_the_api_trusts_forwarded_addresses_from_the_proxy_alone() -> None:
    everything = services()
    proxy_address = everything["proxy"]["networks"]["default"]["ipv4_address"]
    for name in INSTANCES:
        assert everything[name]["environment"]["FICHAS_TRUSTED_PROXIES"] == f"{proxy_address}/32"


def test_backups_are_scheduled_in_exactly_one_place_on_the_shared_data() -> None:
    everything = services()
    schedulers = [
        n for n, s in everything.items() if s.get("command", [])[:2] == ["backup", "schedule"]
    ]
    assert schedulers == ["backup"]
    backup = everything["backup"]
    assert backup["build"]["target"] == "backup"  # the image with pg_dump
    database = everything["api-1"]["environment"]["FICHAS_DATABASE_URL"]
    assert backup["environment"]["FICHAS_DATABASE_URL"] == database
    assert "data:/data" in backup["volumes"]
    assert backup["environment"]["FICHAS_BACKUP_DIR"] + "" == "/backups"
    assert "backups:/backups" in backup["volumes"]


def test_the_postgres_profile_switches_the_api_to_postgresql() -> None:
    everything = services()
    postgres = everything["postgres"]
    assert postgres["profiles"] == ["postgres"]
    example = env_example()
    url = interpolate(example["FICHAS_DATABASE_URL"], {"POSTGRES_PASSWORD": "pw"})
    assert url == (
        f"postgresql+psycopg://{postgres['environment']['POSTGRES_USER']}:pw@postgres:5432/"
        f"{postgres['environment']['POSTGRES_DB']}"
    )
    assert example["COMPOSE_PROFILES"] == "postgres"
    database = everything["api-1"]["environment"]["FICHAS_DATABASE_URL"]
    assert interpolate(database, {"FICHAS_DATABASE_URL": url}) == url
    assert interpolate(database, {}) == "sqlite:////data/fichas.db"
