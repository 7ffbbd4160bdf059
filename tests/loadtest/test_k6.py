"""Durations are read the way k6 writes them, and the SLO becomes k6 thresholds."""

from __future__ import annotations

import pytest

from loadtest.k6 import Slo, seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [("60s", 60), ("2m", 120), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("15", 15),
     ("0.25s", 0.25), ("0s", 0), ("0.5ms", 0.0005)],
)  # fmt: skip
def test_durations(text: str, expected: float) -> None:
    assert seconds(text) == expected


@pytest.mark.parametrize("text", ["", "fast", "10 s", "1x", "ms", "-5s"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 60s"):
        seconds(text)


def test_the_slo_is_k6_thresholds() -> None:
    assert Slo(success=99.9, p95_ms=100, p99_ms=250).thresholds() == {
        "fichas_answered": ["rate>=0.999"],
        "http_req_duration{phase:full}": ["p(95)<=100", "p(99)<=250"],
    }
    assert Slo(success=100, p95_ms=0.001, p99_ms=1e-6).thresholds() == {
        "fichas_answered": ["rate>=1"],
        "http_req_duration{phase:full}": ["p(95)<=0.001", "p(99)<=0.000001"],
    }
