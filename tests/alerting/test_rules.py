"""The alerting rules: valid, unit-tested case by case (alerting/tests/, run by promtool), and
each one something the on-call person can act on: a severity that routes it, the texts that
say what is wrong, a runbook page and a dashboard."""

from __future__ import annotations

from collections import defaultdict

from tests.alerting.rules import ALERTING, RULE_FILES, UNIT_TESTS, alerting_rules, load
from tests.support import promtool

RUNBOOK_PREFIX = "https://github.com/fichas/fichas/blob/main/alerting/runbooks/"
DASHBOARDS = {"fichas-overview", "fichas-resilience", "fichas-proxy-cluster", "fichas-data-backups"}


def test_promtool_accepts_every_rule_file() -> None:
    assert RULE_FILES
    checked = promtool("check", "rules", *map(str, RULE_FILES))
    assert checked.count("SUCCESS") == len(RULE_FILES)


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS
    tested = promtool("test", "rules", *map(str, UNIT_TESTS))
    assert tested.count("SUCCESS") == len(UNIT_TESTS)


def test_every_alert_has_a_firing_and_a_near_miss_unit_test() -> None:
    """A firing case (expected alerts listed) and one where it must stay quiet (none)."""
    cases: dict[str, set[bool]] = defaultdict(set)
    for path in UNIT_TESTS:
        for group in load(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                cases[case["alertname"]].add(bool(case.get("exp_alerts")))
    for rule in alerting_rules():
        assert cases[rule["alert"]] == {True, False}, f"{rule['alert']}: {cases[rule['alert']]}"


def test_every_alert_routes_and_says_what_to_do() -> None:
    names = [rule["alert"] for rule in alerting_rules()]
    assert len(names) == len(set(names)), "one rule per alert name, one runbook each"
    for rule in alerting_rules():
        name, annotations = rule["alert"], rule.get("annotations", {})
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        for field in ("summary", "description", "runbook_url", "dashboard_url"):
            assert annotations.get(field, "").strip(), f"{name} has no {field}"
        assert annotations["runbook_url"] == f"{RUNBOOK_PREFIX}{name}.md", name
        assert (ALERTING / "runbooks" / f"{name}.md").is_file(), f"no runbook page for {name}"
        base, _, uid = annotations["dashboard_url"].rpartition("/d/")
        assert base == "http://localhost:3000", name
        assert uid in DASHBOARDS, name


def test_every_runbook_page_belongs_to_an_alert() -> None:
    pages = {page.stem for page in (ALERTING / "runbooks").glob("*.md")}
    assert pages == {rule["alert"] for rule in alerting_rules()}
