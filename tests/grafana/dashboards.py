"""The Grafana side of grafana/, read the way Grafana reads it, for the static and the live
tests alike: the provisioning files (with Grafana's environment expansion), every dashboard,
every panel (rows unfolded) and every query, with its template variables made concrete."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVISIONING = GRAFANA / "provisioning"

# What Grafana itself puts in place of its global variables when it runs a query: durations
# that suit the tests' Prometheus (1 s scrapes, a run of a minute or two).
GRAFANA_GLOBALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}

# $name, ${name} and ${name:format}: the ways a dashboard query names a variable.
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
# Grafana's provisioning expansion: $NAME or ${NAME} from the environment.
_ENVIRONMENT_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

Dashboard = dict[str, Any]
Panel = dict[str, Any]


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # the file's name, without .json
    panel: str  # the panel's title
    expr: str  # as written, template variables and all
    concrete: str  # as Prometheus would get it with every variable at "All"

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel}: {self.expr}"


def load_dashboards() -> dict[str, Dashboard]:
    """Every dashboard in grafana/dashboards, by file name (without .json)."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def all_panels(dashboard: Dashboard) -> list[Panel]:
    """Every panel, rows included, and the panels a collapsed row keeps inside itself."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def data_panels(dashboard: Dashboard) -> list[Panel]:
    """The panels that show data: all but the rows."""
    return [panel for panel in all_panels(dashboard) if panel["type"] != "row"]


def variables(dashboard: Dashboard) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def variables_in(expr: str) -> set[str]:
    return {braced or bare for braced, bare in _VARIABLE.findall(expr)}


def concrete(expr: str, dashboard: Dashboard) -> str:
    """``expr`` as Grafana sends it with every template variable set to "All" (its allValue);
    KeyError naming a variable that is neither the dashboard's nor one of Grafana's."""
    values = {name: variable["allValue"] for name, variable in variables(dashboard).items()}
    values |= GRAFANA_GLOBALS
    return _VARIABLE.sub(lambda match: values[match[1] or match[2]], expr)


def panel_queries() -> Iterator[PanelQuery]:
    """Every query of every panel of every dashboard."""
    for name, dashboard in load_dashboards().items():
        for panel in data_panels(dashboard):
            for target in panel["targets"]:
                expr = target["expr"]
                yield PanelQuery(name, panel["title"], expr, concrete(expr, dashboard))


def provisioning(kind: str) -> dict[str, Any]:
    """grafana/provisioning/<kind>/<kind>.yml, parsed (``kind``: datasources or dashboards)."""
    loaded: dict[str, Any] = yaml.safe_load((PROVISIONING / kind / f"{kind}.yml").read_text())
    return loaded


def expand(value: str, environment: Mapping[str, str]) -> str:
    """A provisioning value as Grafana reads it: $NAME and ${NAME} replaced from the
    environment (empty when unset), $$ a literal $. Hand-written: it is Grafana's own rule
    (os.ExpandEnv on the parts between $$, pkg/services/provisioning/values), which no
    Python library reproduces exactly."""
    return "$".join(
        _ENVIRONMENT_VARIABLE.sub(lambda match: environment.get(match[1] or match[2], ""), part)
        for part in value.split("$$")
    )
