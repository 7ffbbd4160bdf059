"""The dashboards are valid Grafana JSON wired to the provisioned data sources, with units,
template variables and exemplars where an operator needs them, and queries promtool accepts;
the provisioning files give Grafana its data sources and the dashboards folder. Whether every
query returns data from a live cluster: tests/integration/test_dashboard_queries.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.grafana.dashboards import (
    DASHBOARDS,
    GRAFANA_GLOBALS,
    all_panels,
    data_panels,
    expand,
    load_dashboards,
    panel_queries,
    provisioning,
    variables,
    variables_in,
)
from tests.support import promtool

BOARDS = load_dashboards()
DATASOURCES = {source["uid"]: source for source in provisioning("datasources")["datasources"]}
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
# Unit ids Grafana knows, of those these dashboards use: a misspelt one shows raw numbers.
GRAFANA_UNITS = {"reqps", "ops", "percentunit", "s", "bytes", "dateTimeFromNow", "none", "short"}
# Where compose runs Grafana (the values its comment documents).
COMPOSE_ENVIRONMENT = {
    "PROMETHEUS_URL": "http://prometheus:9090",
    "TEMPO_URL": "http://tempo:3200",
    "LOKI_URL": "http://loki:3100",
}


def test_the_dashboards_of_the_design_are_all_there() -> None:
    assert set(BOARDS) == {"overview", "resilience", "proxy-cluster", "data-backups"}
    assert len({board["uid"] for board in BOARDS.values()}) == len(BOARDS)
    assert len({board["title"] for board in BOARDS.values()}) == len(BOARDS)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_is_grafana_json_with_unique_panel_ids(name: str) -> None:
    board = BOARDS[name]
    # 36 and later name data sources by {type, uid}, which is what provisioning pins.
    assert isinstance(board["schemaVersion"], int)
    assert board["schemaVersion"] >= 36
    assert board["uid"]
    assert board["title"]
    ids = [panel["id"] for panel in all_panels(board)]
    assert all(isinstance(panel_id, int) for panel_id in ids), ids
    assert len(ids) == len(set(ids)), ids
    for panel in all_panels(board):
        grid = panel["gridPos"]
        assert grid["h"] > 0, panel["title"]
        assert 0 <= grid["x"] < grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_panel_queries_the_provisioned_prometheus(name: str) -> None:
    assert DATASOURCES[PROMETHEUS["uid"]]["type"] == PROMETHEUS["type"]
    problems = []
    for panel in data_panels(BOARDS[name]):
        title, targets = panel["title"], panel.get("targets", [])
        if panel.get("datasource") != PROMETHEUS:
            problems.append(f"{title}: panel datasource {panel.get('datasource')}")
        if not targets:
            problems.append(f"{title}: no query")
        for target in targets:
            if target.get("datasource") != PROMETHEUS:
                problems.append(f"{title} {target['refId']}: datasource {target.get('datasource')}")
            if not target.get("expr", "").strip():
                problems.append(f"{title} {target['refId']}: empty expr")
        if len({target["refId"] for target in targets}) != len(targets):
            problems.append(f"{title}: refIds repeat")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_panel_has_a_unit(name: str) -> None:
    units = {
        panel["title"]: panel["fieldConfig"]["defaults"].get("unit")
        for panel in data_panels(BOARDS[name])
    }
    assert {title: unit for title, unit in units.items() if unit not in GRAFANA_UNITS} == {}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_template_variables_are_label_values_and_used(name: str) -> None:
    board = BOARDS[name]
    defined = variables(board)
    assert "instance" in defined
    for variable in defined.values():
        assert variable["type"] == "query"
        assert variable["datasource"] == PROMETHEUS
        assert variable["query"]["query"].startswith("label_values(")
        # "All" is the regex .*, so panels can write label=~"$name" for one value or all.
        assert variable["includeAll"] is True
        assert variable["allValue"] == ".*"
    used = {name for query in _queries(board) for name in variables_in(query)}
    assert set(defined) - used == set(), "a variable no panel uses"
    assert used - set(defined) - set(GRAFANA_GLOBALS) == set(), "a variable nobody defines"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_latency_panels_show_exemplars(name: str) -> None:
    latency = [
        (panel["title"], target)
        for panel in data_panels(BOARDS[name])
        for target in panel["targets"]
        if "histogram_quantile" in target["expr"]
    ]
    assert [title for title, target in latency if target.get("exemplar") is not True] == []


def test_at_least_the_request_latency_links_to_traces() -> None:
    assert any(
        target.get("exemplar") and "fichas_http_request_duration_seconds_bucket" in target["expr"]
        for panel in data_panels(BOARDS["overview"])
        for target in panel["targets"]
    )


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    # Each query, variables made concrete, as a recording rule: promtool parses every one.
    rules = [
        {"record": f"dashboard:query_{n}", "expr": query.concrete}
        for n, query in enumerate(panel_queries())
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in promtool("check", "rules", str(path))


def test_datasources_have_the_uids_the_dashboards_use_and_urls_from_the_environment() -> None:
    assert {uid: source["type"] for uid, source in DATASOURCES.items()} == {
        "prometheus": "prometheus",
        "tempo": "tempo",
        "loki": "loki",
    }
    for source in DATASOURCES.values():
        wanted = COMPOSE_ENVIRONMENT[f"{source['type'].upper()}_URL"]
        assert expand(source["url"], COMPOSE_ENVIRONMENT) == wanted


def test_exemplars_open_their_trace_in_tempo() -> None:
    destinations = DATASOURCES["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    # The request-latency histogram's exemplars carry the trace id under `trace_id`.
    assert [(d["name"], d["datasourceUid"]) for d in destinations] == [("trace_id", "tempo")]


def test_a_log_line_links_to_its_trace_in_tempo() -> None:
    (field,) = DATASOURCES["loki"]["jsonData"]["derivedFields"]
    assert field["datasourceUid"] == "tempo"
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    line = json.dumps({"message": "request", "trace_id": trace_id, "span_id": "00f067aa0ba902b7"})
    found = re.search(field["matcherRegex"], line)
    assert found is not None
    assert found[1] == trace_id
    # $$ keeps Grafana's own ${__value.raw} from being taken for an environment variable.
    assert expand(field["url"], COMPOSE_ENVIRONMENT) == "${__value.raw}"


def test_dashboards_are_provisioned_from_grafana_dashboards() -> None:
    (provider,) = provisioning("dashboards")["providers"]
    assert provider["type"] == "file"
    where = expand(provider["options"]["path"], {"FICHAS_DASHBOARDS_DIR": str(DASHBOARDS)})
    assert Path(where) == DASHBOARDS
    assert sorted(path.stem for path in Path(where).glob("*.json")) == sorted(BOARDS)


def _queries(board: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in data_panels(board) for target in panel["targets"]]
