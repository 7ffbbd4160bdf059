"""The bundled Prometheus configuration is what promtool accepts, and loads every rule file
of alerting/rules/ (the rules themselves are tested in tests/alerting/)."""

from __future__ import annotations

from pathlib import Path

from tests.support import promtool

ROOT = Path(__file__).resolve().parents[2]


def test_prometheus_yml_is_valid_and_loads_every_rule_file() -> None:
    rule_files = sorted((ROOT / "alerting" / "rules").glob("*.yml"))
    assert rule_files
    checked = promtool("check", "config", str(ROOT / "observability" / "prometheus.yml"))
    assert f"SUCCESS: {len(rule_files)} rule files found" in checked
