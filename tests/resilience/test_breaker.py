"""closed → open after the threshold; refused at once while open; one probe when half-open."""

from __future__ import annotations

import pytest

from api.resilience import breaker as breaker_module
from api.resilience.breaker import Breaker, CircuitOpen
from observability.metrics import build_metrics
from tests.clock import Clock


class Down(Exception):
    pass


def _breaker(threshold: int = 3, cooldown: float = 0.2) -> Breaker:
    return Breaker(
        "dep", build_metrics("test"), lambda e: isinstance(e, Down),
        threshold=threshold, cooldown=cooldown,
    )  # fmt: skip


def _fail(breaker: Breaker) -> None:
    with pytest.raises(Down), breaker.guard():
        raise Down


def _sample(breaker: Breaker, name: str, **labels: str) -> float:
    value = breaker.metrics.registry.get_sample_value(name, {"breaker": "dep", **labels})
    return 0.0 if value is None else value


def test_it_opens_after_the_threshold_and_refuses_at_once() -> None:
    breaker = _breaker(threshold=3)
    for _ in range(2):
        _fail(breaker)
    assert breaker.state == "closed"
    _fail(breaker)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as refused, breaker.guard():
        pytest.fail("an open breaker must not run the call")
    assert refused.value.retry_after >= 0.2
    assert _sample(breaker, "fichas_circuit_breaker_state", state="open") == 1
    assert _sample(breaker, "fichas_circuit_breaker_state", state="closed") == 0
    assert _sample(breaker, "fichas_circuit_breaker_calls_total", outcome="failure") == 3
    assert _sample(breaker, "fichas_circuit_breaker_calls_total", outcome="rejected") == 1
    transitions = {"from_state": "closed", "to_state": "open"}
    assert _sample(breaker, "fichas_circuit_breaker_transitions_total", **transitions) == 1


def test_a_success_between_failures_starts_the_count_again() -> None:
    breaker = _breaker(threshold=2)
    _fail(breaker)
    with breaker.guard():
        pass
    _fail(breaker)
    assert breaker.state == "closed"


def test_answers_other_than_failures_count_as_success() -> None:
    breaker = _breaker(threshold=1)
    with pytest.raises(KeyError), breaker.guard():
        raise KeyError("a 404 is an answer")
    assert breaker.state == "closed"


def test_after_the_cooldown_one_probe_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock().install(monkeypatch, breaker_module)
    breaker = _breaker(threshold=1, cooldown=5)
    _fail(breaker)
    clock.advance(4.9)
    with pytest.raises(CircuitOpen), breaker.guard():  # not yet
        pass
    clock.advance(0.1)
    with breaker.guard():  # the probe
        assert breaker.state == "half_open"
        with pytest.raises(CircuitOpen), breaker.guard():  # only one probe at a time
            pass
    assert breaker.state == "closed"

    _fail(breaker)
    clock.advance(5)
    _fail(breaker)  # a failed probe opens it again, for a whole cooldown
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen), breaker.guard():
        pass
