"""k6's CSV samples become per-endpoint and per-second tallies; everything else is skipped."""

from __future__ import annotations

import pytest

from loadtest.k6 import Load, Run
from loadtest.report import run_figures, table
from loadtest.samples import Samples, Tally, Wrong

HEADER = (
    "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,"
    "name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata"
)


def _row(
    metric: str,
    ms: int,
    value: float,
    name: str,
    group: str = "",
    tags: str = "phase=full",
    status: int = 200,
    error_code: str = "",
) -> str:
    return f"{metric},{ms},{value:f},,,{error_code},,{group},GET,{name},,pcs,,{status},,,,{tags},"


def test_durations_and_verdicts_are_tallied_by_endpoint_and_second() -> None:
    lines = [
        HEADER,
        _row("http_req_duration", 999_000, 3.0, "GET /x", group="::setup"),  # not a PC's
        _row("http_req_duration", 1_000_100, 10.0, "GET /clientes"),
        _row("http_req_waiting", 1_000_100, 9.0, "GET /clientes"),  # other metrics: skipped
        _row("fichas_answered", 1_000_100, 1, "GET /clientes"),
        _row("http_req_duration", 1_000_900, 30.0, "POST /pedidos"),
        _row("fichas_answered", 1_000_900, 0, "POST /pedidos"),
        _row("http_req_duration", 1_002_500, 20.0, "GET /clientes"),
        _row("fichas_answered", 1_002_500, 1, "GET /clientes"),
    ]
    completed: list[tuple[int, int]] = []
    samples = Samples()
    samples.read(lines, lambda second, tally: completed.append((second, len(tally.durations))))

    assert set(samples.by_endpoint) == {"GET /clientes", "POST /pedidos"}
    clientes = samples.by_endpoint["GET /clientes"]
    assert clientes.durations == [10.0, 20.0]
    assert clientes.success == 100.0
    assert samples.by_endpoint["POST /pedidos"].success == 0.0
    assert samples.total.success == pytest.approx(200 / 3)
    assert samples.seconds == pytest.approx(2.4)
    assert sorted(samples.by_second) == [1000, 1002]
    assert completed == [(0, 2)]  # second 1000 reported once 1002 began; the last never closes


def test_an_empty_stream_is_no_run() -> None:
    samples = Samples()
    samples.read([], lambda second, tally: None)
    assert samples.seconds == 0.0
    assert samples.total.success == 100.0  # nothing asked, nothing wrong


def test_percentiles_of_an_empty_tally_are_zero() -> None:
    assert Tally().percentiles(50, 99) == [0.0, 0.0]
    assert Tally(durations=[1.0, 2.0, 3.0, 4.0]).percentiles(50) == [2.5]


def test_the_rate_counts_the_full_load_not_the_tail() -> None:
    samples = Samples()
    lines = [HEADER] + [
        _row("http_req_duration", 1_000_000 + 250 * n, 5.0, "GET /clientes", tags=phase)
        for n, phase in enumerate(["phase=full"] * 8 + ["phase=tail"] * 8)
    ]  # four per second: two seconds at full load, then two of tail
    samples.read(lines, lambda second, tally: None)
    assert samples.rate(2) == 4.0
    assert samples.rate(0) == 0.0
    assert samples.full_load == (0.0, 1.75)
    assert samples.seconds == 3.75


def test_the_ramp_is_drawn_and_its_verdicts_count_but_its_requests_are_not_timed() -> None:
    ramp, full = "phase=ramp", "phase=full"
    lines = [
        HEADER,
        _row("http_req_duration", 1_000_500, 900.0, "GET /clientes", tags=ramp),
        _row("fichas_answered", 1_000_500, 0, "GET /clientes", tags=ramp),
        _row("http_req_duration", 1_001_200, 800.0, "GET /clientes", tags=f"{ramp}&x=y"),
        _row("fichas_answered", 1_001_200, 1, "GET /clientes", tags=f"{ramp}&x=y"),
    ] + [
        line
        for n in range(6)  # three per second from second 1002 on
        for line in (
            _row("http_req_duration", 1_002_000 + 333 * n, 10.0, "GET /clientes", tags=full),
            _row("fichas_answered", 1_002_000 + 333 * n, 1, "GET /clientes", tags=full),
        )
    ]
    samples = Samples()
    samples.read(lines, lambda second, tally: None)

    clientes = samples.by_endpoint["GET /clientes"]
    assert clientes.durations == [10.0] * 6  # the ramp's slow answers are not the full load's
    assert (clientes.answered, clientes.wrong) == (7, 1)  # but a wrong one still counts
    assert samples.full_load == (1.5, 3.165)
    assert samples.rate(2) == 3.0  # six at full load, which lasted 2 s
    assert len(samples.by_second[1000].durations) == 1  # the chart shows the ramp


@pytest.mark.parametrize(
    ("first_ms", "last_ms", "full"),
    [
        (1_000_437, 1_004_250, range(1001, 1004)),  # began and ended inside a second
        (1_000_000, 1_003_999, range(1000, 1004)),  # on the first ms of one, the last of another
        (1_000_001, 1_003_998, range(1001, 1003)),  # a millisecond late, a millisecond short
        (1_000_500, 1_001_700, range(1001, 1001)),  # not one second all through
    ],
)
def test_only_the_seconds_the_run_lasted_all_through_are_full(
    first_ms: int, last_ms: int, full: range
) -> None:
    samples = Samples()
    samples.read(
        [
            HEADER,
            _row("http_req_duration", first_ms, 1, "x"),
            _row("http_req_duration", last_ms, 1, "x"),
        ],
        lambda second, tally: None,
    )
    assert samples.full_seconds == full


def test_a_wrong_answer_says_why_and_the_report_lists_them_by_endpoint_and_why() -> None:
    wrong = "phase=full&wrong="
    lines = [
        HEADER,
        _row("fichas_answered", 1_000_100, 1, "GET /clientes"),
        _row("fichas_answered", 1_002_300, 0, "GET /clientes", tags=wrong + "status", status=0,
             error_code="1211"),
        _row("fichas_answered", 1_003_000, 0, "GET /clientes", tags=wrong + "status", status=0,
             error_code="1211"),
        _row("fichas_answered", 1_004_700, 0, "POST /pedidos", tags=wrong + "status", status=502),
        _row("fichas_answered", 1_005_000, 0, "GET /clientes", tags=wrong + "body"),
    ]  # fmt: skip
    samples = Samples()
    samples.read(lines, lambda second, tally: None)
    assert samples.wrong[0] == Wrong(1_002_300, "GET /clientes", "status 0 (k6 error 1211)")
    assert [w.why for w in samples.wrong[2:]] == ["status 502", "status 200, body wrong"]

    figures = run_figures(Run(Load("http://x", [], pcs=2, seconds=5, think=0), 1, samples))
    assert figures["wrong"][0] == {
        "endpoint": "GET /clientes", "why": "status 0 (k6 error 1211)", "count": 2, "first_s": 2.3
    }  # fmt: skip
    assert table(figures).splitlines()[-3:] == [
        "answered wrong: GET /clientes: 2 × status 0 (k6 error 1211), first at 2.3 s",
        "answered wrong: POST /pedidos: 1 × status 502, first at 4.7 s",
        "answered wrong: GET /clientes: 1 × status 200, body wrong, first at 5.0 s",
    ]
