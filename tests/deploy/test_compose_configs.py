"""The configuration files the compose stack mounts: each accepted by its own tool where the
tool is here (Caddy, promtool, amtool), and all of them agreeing on the stack's addresses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploy.compose_caddyfile import CADDYFILE, COMPOSE_PROXY
from proxy.caddy import write_config
from tests.deploy.compose import REPO, env_example, host_path, interpolate, load, services
from tests.support import promtool


def container_file(service: str, path: str) -> Path:
    return host_path(services()[service], path)


def yaml_file(service: str, path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(container_file(service, path).read_text())
    return loaded


def port(address: str) -> int:
    """The port of ``host:port`` or of a URL."""
    return int(address.rpartition(":")[2].split("/")[0])


def healthcheck_port(service: str) -> int:
    url = next(arg for arg in services()[service]["healthcheck"]["test"] if "://" in arg)
    return port(url)


@pytest.mark.slow
def test_the_caddyfile_is_the_projects_rendering_and_caddy_accepts_it(tmp_path: Path) -> None:
    mounted = container_file("proxy", "/etc/caddy/Caddyfile")
    assert mounted == CADDYFILE
    assert CADDYFILE.read_text() == COMPOSE_PROXY.render(), (
        "deploy/caddy/Caddyfile is stale: run `uv run python -m deploy.compose_caddyfile`"
    )
    write_config(COMPOSE_PROXY, tmp_path / "Caddyfile")  # raises with Caddy's reason


def test_the_proxy_listens_where_compose_publishes_and_prometheus_scrapes() -> None:
    proxy = services()["proxy"]
    assert proxy["ports"][0].endswith(f":{port(COMPOSE_PROXY.listen)}")
    assert healthcheck_port("proxy") == port(COMPOSE_PROXY.admin)
    prometheus = yaml_file("prometheus", "/etc/prometheus/prometheus.yml")
    caddy = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "caddy")
    assert COMPOSE_PROXY.metrics_listen is not None
    assert caddy["static_configs"][0]["targets"] == [f"proxy:{port(COMPOSE_PROXY.metrics_listen)}"]


def test_prometheus_config_and_its_rules_pass_promtool(tmp_path: Path) -> None:
    prometheus = services()["prometheus"]
    config = yaml_file("prometheus", "/etc/prometheus/prometheus.yml")
    # The rules as Prometheus sees them in its container, found where compose mounts them from.
    config["rule_files"] = [str(host_path(prometheus, pattern)) for pattern in config["rule_files"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    output = promtool("check", "config", str(path))
    checked = re.findall(r"SUCCESS: (\d+) rules found", output)
    assert checked, output
    assert sum(map(int, checked)) > 0


def test_prometheus_scrapes_every_api_instance_by_name() -> None:
    config = yaml_file("prometheus", "/etc/prometheus/prometheus.yml")
    api = next(job for job in config["scrape_configs"] if job["job_name"] == "fichas-api")
    listen = services()["api-1"]["environment"]["FICHAS_LISTEN"]
    assert api["static_configs"][0]["targets"] == [
        f"{upstream.partition(':')[0]}:{port(listen)}" for upstream in COMPOSE_PROXY.upstreams
    ]
    instance = re.fullmatch(api["relabel_configs"][0]["regex"], "api-1:8000")
    assert instance is not None
    assert instance.group(1) == "api-1"  # the name, as in the targets file of `fichas up`
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"alertmanager:{healthcheck_port('alertmanager')}"
    ]
    exporter = next(job for job in config["scrape_configs"] if job["job_name"] == "redis")
    assert exporter["static_configs"][0]["targets"] == [
        f"redis-exporter:{healthcheck_port('redis-exporter')}"
    ]


@pytest.mark.slow
def test_alertmanager_config_rendered_from_the_compose_environment_passes_amtool(
    tmp_path: Path,
) -> None:
    """What the alertmanager-config job writes, from .env.example's values, is valid."""
    job = services()["alertmanager-config"]
    variables = env_example()
    environment = {k: interpolate(str(v), variables) for k, v in job["environment"].items()}
    password = tmp_path / "smtp_password"  # the compose secret, where the job names it
    password.write_text("secret\n")
    assert environment["FICHAS_ALERT_SMTP_PASSWORD_FILE"] == "/run/secrets/smtp_password"
    environment["FICHAS_ALERT_SMTP_PASSWORD_FILE"] = str(password)
    output = tmp_path / "alertmanager.yml"
    command = [sys.executable, *job["entrypoint"][1:-1], str(output)]
    env = {**os.environ, **environment}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    rendered = output.read_text()
    assert variables["FICHAS_ALERT_PAGER_URL"] in rendered
    checked = subprocess.run(
        ["amtool", "check-config", str(output)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alertmanager_finds_its_templates_beside_its_configuration() -> None:
    # The job writes both into the volume (observability.alertmanager.write): nothing of the
    # fichas image's layout, nor of the checkout, needs mounting into Alertmanager's container.
    alertmanager = services()["alertmanager"]
    assert not any("templates" in volume for volume in alertmanager["volumes"])
    assert "alertmanager-config:/etc/alertmanager/fichas:ro" in alertmanager["volumes"]
    assert "--config.file=/etc/alertmanager/fichas/alertmanager.yml" in alertmanager["command"]
    job = services()["alertmanager-config"]
    assert job["entrypoint"][-1] == "/data/alertmanager.yml"
    assert "alertmanager-config:/data" in job["volumes"]


def test_traces_flow_from_the_api_and_proxy_through_the_collector_to_tempo() -> None:
    collector = yaml_file("otel-collector", "/etc/otelcol-contrib/fichas.yaml")
    assert services()["otel-collector"]["command"] == ["--config=/etc/otelcol-contrib/fichas.yaml"]
    pipeline = collector["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(collector[kind]), kind
    http = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    for sender in ("api-1", "proxy"):
        assert port(services()[sender]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]) == port(http)
    assert services()["proxy"]["environment"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert port(collector["extensions"]["health_check"]["endpoint"]) == healthcheck_port(
        "otel-collector"
    )
    (exporter,) = (collector["exporters"][name] for name in pipeline["exporters"])
    tempo = yaml_file("tempo", "/etc/tempo/tempo.yaml")
    grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert exporter["endpoint"] == f"tempo:{port(grpc)}"


def test_grafana_reaches_prometheus_tempo_and_loki_where_they_listen() -> None:
    grafana = services()["grafana"]
    environment = grafana["environment"]
    tempo = yaml_file("tempo", "/etc/tempo/tempo.yaml")
    loki = yaml_file("loki", "/etc/loki/fichas.yaml")
    expected = {
        "PROMETHEUS_URL": ("prometheus", healthcheck_port("prometheus")),
        "TEMPO_URL": ("tempo", tempo["server"]["http_listen_port"]),
        "LOKI_URL": ("loki", loki["server"]["http_listen_port"]),
    }
    for variable, (host, listening) in expected.items():
        url = urlsplit(environment[variable])
        assert (url.hostname, url.port) == (host, listening), variable
        assert healthcheck_port(host) == listening
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    assert provisioning == REPO / "grafana" / "provisioning"
    dashboards = host_path(grafana, environment["FICHAS_DASHBOARDS_DIR"])
    assert any(dashboards.glob("*.json")), dashboards
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_alloy_ships_the_compose_projects_logs_to_loki() -> None:
    config = container_file("alloy", "/etc/alloy/config.alloy").read_text()
    loki = yaml_file("loki", "/etc/loki/fichas.yaml")
    push = re.search(r'url = "(http://[^"]+)"', config)
    assert push is not None
    url = urlsplit(push.group(1))
    assert (url.hostname, url.port, url.path) == (
        "loki",
        loki["server"]["http_listen_port"],
        "/loki/api/v1/push",
    )
    assert f'"com.docker.compose.project={load()["name"]}"' in config
    # Every component the pipeline forwards to is declared.
    for kind, label in re.findall(r"forward_to\s*=\s*\[([\w.]+)\.(\w+)\.receiver\]", config):
        assert f'{kind} "{label}"' in config
