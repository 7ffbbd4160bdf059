"""Every metric a rule reads is one the code exports (read from a live cluster's /metrics:
each instance, the supervisor and Caddy, the targets Prometheus scrapes) or one a recording
rule makes. A renamed metric would otherwise leave its alert silently evaluating to nothing.

Names are taken from the PromQL with a few regular expressions, not a parser: promtool has no
command that prints the selectors of an expression, and no PromQL parser is a dependency. The
rules use a small part of the language (selectors, functions, aggregations, arithmetic), which
the crude way reads correctly; a name it made up would fail the test, not pass it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from loadtest.target import own_cluster
from tests.alerting.rules import rules

# Series Prometheus makes itself for every target.
SYNTHETIC = {"up"}
# The sample names each family type exposes, beside its own (counters are parsed without
# _total).
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
}
NOT_NAMES = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # strings (label values)
    r"|\{[^}]*\}"  # label matchers
    r"|\[[^\]]*\]"  # ranges
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # label lists
)
IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*)\b(?!\s*\()")
EXPOSED = re.compile(r"^([a-zA-Z_:][\w:]*)[{ ]", re.MULTILINE)
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def referenced(expr: str) -> set[str]:
    return {
        name
        for name in IDENTIFIER.findall(NOT_NAMES.sub(" ", expr))
        if name.lower() not in KEYWORDS
    }


def exported(exposition: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    # And the names as written: the parser gives every counter a _total, which Prometheus does
    # not (Litestream's litestream_sync_error_count is stored as exposed).
    names.update(EXPOSED.findall(exposition))
    return names


def test_rules_read_only_metrics_that_exist(tmp_path: Path) -> None:
    with own_cluster(tmp_path, 1, tmp_path / "cluster.log"):
        targets = json.loads((tmp_path / "cluster" / "targets.json").read_text())
        jobs = {group["labels"]["job"] for group in targets}
        assert jobs == {"fichas-api", "caddy", "litestream", "fichas-supervisor"}, jobs
        available = set(SYNTHETIC)
        for group in targets:
            for address in group["targets"]:
                available |= exported(httpx2.get(f"http://{address}/metrics", timeout=10).text)
    available |= {rule["record"] for rule in rules() if "record" in rule}
    unknown = {
        name: rule.get("alert", rule.get("record"))
        for rule in rules()
        for name in referenced(rule["expr"])
        if name not in available
    }
    assert not unknown, f"metrics read by rules (name: rule) that nothing exports: {unknown}"
