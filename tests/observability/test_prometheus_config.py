"""The bundled Prometheus configuration and recording rules are what promtool accepts."""

from __future__ import annotations

from pathlib import Path

from tests.support import promtool

OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"


def test_prometheus_yml_is_valid_and_loads_the_rules() -> None:
    checked = promtool("check", "config", str(OBSERVABILITY / "prometheus.yml"))
    assert "SUCCESS: 1 rule files found" in checked


def test_recording_rules_are_valid() -> None:
    rules = sorted((OBSERVABILITY / "rules").glob("*.yml"))
    assert rules
    assert "SUCCESS" in promtool("check", "rules", *map(str, rules))
