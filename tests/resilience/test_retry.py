"""One more try for a quick transient failure; none for the rest; every retry counted."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from api.resilience import retry as retry_module
from api.resilience.retry import Retry, transient_db_error
from observability.metrics import build_metrics
from tests.clock import Clock


def _locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))


def _retry(quick: float = 1.0) -> Retry:
    return Retry(build_metrics("test"), transient_db_error, quick=quick, base_delay=0.001)


def _retries(retry: Retry, outcome: str) -> float:
    labels = {"operation": "db.write", "outcome": outcome}
    value = retry.metrics.registry.get_sample_value("fichas_retries_total", labels)
    return 0.0 if value is None else value


def test_a_quick_transient_failure_is_tried_once_more() -> None:
    retry, calls = _retry(), []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise _locked()
        return "committed"

    assert retry("db.write", flaky) == "committed"
    assert len(calls) == 2
    assert _retries(retry, "success") == 1


def test_at_most_two_attempts() -> None:
    retry, calls = _retry(), []

    def down() -> None:
        calls.append(1)
        raise _locked()

    with pytest.raises(OperationalError):
        retry("db.write", down)
    assert len(calls) == 2
    assert _retries(retry, "exhausted") == 1


def test_a_constraint_violation_is_not_retried() -> None:
    retry, calls = _retry(), []

    def duplicate() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    with pytest.raises(IntegrityError):
        retry("db.write", duplicate)
    assert len(calls) == 1
    assert _retries(retry, "exhausted") == 0


def test_a_slow_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock().install(monkeypatch, retry_module)
    retry, calls = _retry(quick=0.05), []

    def waited_then_failed() -> None:
        calls.append(1)
        clock.advance(0.1)  # as SQLite's busy handler waits before giving up
        raise _locked()

    with pytest.raises(OperationalError):
        retry("db.write", waited_then_failed)
    assert len(calls) == 1
