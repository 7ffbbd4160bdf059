"""The rule files of alerting/rules/, read as data for the tests that check them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ALERTING = Path(__file__).resolve().parents[2] / "alerting"
RULE_FILES = sorted((ALERTING / "rules").glob("*.yml"))
UNIT_TESTS = sorted((ALERTING / "tests").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    """Every rule, recording and alerting, of every file."""
    return [
        rule for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"]
    ]


def alerting_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]
