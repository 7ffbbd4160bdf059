"""The charts, drawn for real with matplotlib and read back from the figure: the SLO's bounds,
the errors, only the run's full seconds, the ramp shaded; the same per step for capacity.

``write_examples`` draws the two charts shown in docs/OPERATIONS.md, from a synthesised run:
``uv run python -c "from tests.loadtest.test_report import *; write_examples(Path('docs/img'))"``
"""

from __future__ import annotations

import random
from math import isnan
from pathlib import Path
from typing import Any

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from loadtest.k6 import Slo
from loadtest.report import Event, chart_capacity, chart_over_time
from loadtest.samples import Samples
from tests.loadtest.test_samples import HEADER, _row

PNG = b"\x89PNG\r\n\x1a\n"
SESSION = [
    "GET /clientes?q=", "GET /clientes", "GET /clientes/{id}", "GET /producoes/tipos",
    "POST /pedidos", "POST /pedidos/{id}/status", "POST /pedidos/{id}/status",
    "POST /pedidos/{id}/status", "GET /pedidos/{id}/eventos", "GET /pedidos/{id}/ficha",
]  # fmt: skip
START_MS = 1_700_000_000_437  # a run starts somewhere inside a clock second


def k6_run(
    pcs: int = 25, seconds: float = 60, think: float = 0.5, trouble: tuple[float, ...] = ()
) -> Samples:
    """Samples as k6 streams them for the PC script: each PC starts at a random moment of its
    first session (the ramp: 10 requests × ``think``), works ``seconds``, then finishes the
    session the end cut (the tail). In the second after each ``trouble`` moment (seconds into
    the run) the system is six times slower and one request in ten is answered wrong."""
    rng = random.Random(20)
    ramp = len(SESSION) * think
    lines = []
    for _ in range(pcs):
        at, made = rng.uniform(0, ramp), 0
        while at < ramp + seconds or made % len(SESSION):  # sessions are finished
            troubled = any(0 <= at - when < 1 for when in trouble)
            took = rng.lognormvariate(2.2, 0.5) * (6 if troubled else 1)  # ms; median 9
            at += took / 1000
            phase = "ramp" if at < ramp else "full" if at < ramp + seconds else "tail"
            ms, name, tags = (
                START_MS + round(at * 1000),
                SESSION[made % len(SESSION)],
                f"phase={phase}",
            )
            right = not (troubled and rng.random() < 0.1)
            lines.append(_row("http_req_duration", ms, took, name, tags=tags))
            lines.append(_row("fichas_answered", ms, right, name, tags=tags))
            at += think * rng.uniform(0.5, 1.5)
            made += 1
    samples = Samples()
    samples.read([HEADER, *sorted(lines, key=lambda line: line.split(",")[1])], lambda s, t: None)
    return samples


def step(pcs: int, req_per_s: float, p99_ms: float, success_pct: float = 100.0) -> dict[str, Any]:
    """A capacity step's figures, as ``report.run_figures`` makes them."""
    total = {"req_per_s": req_per_s, "p50_ms": p99_ms / 5, "p95_ms": p99_ms / 2, "p99_ms": p99_ms}
    met = p99_ms <= Slo().p99_ms and p99_ms / 2 <= Slo().p95_ms and success_pct >= Slo().success
    return {"pcs": pcs, "slo_met": met, "total": {**total, "success_pct": success_pct}}


def write_examples(folder: Path) -> None:
    """The charts of docs/OPERATIONS.md: loadtest-chart.png and capacity-chart.png."""
    example_run(folder / "loadtest-chart.png")
    example_capacity(folder / "capacity-chart.png")


def example_run(path: Path) -> Figure:
    """25 PCs for 60 s after a 5 s ramp, with a bad moment half way."""
    return chart_over_time(k6_run(trouble=(31.2,)), path, "pcs: 25 PCs, think 0.5 s", [], Slo())


def example_capacity(path: Path) -> Figure:
    """Steps from 15 PCs up, until 800 break the SLO."""
    steps = [
        step(15, 29, 38), step(25, 48, 41), step(50, 96, 47), step(100, 190, 62),
        step(200, 371, 95), step(400, 702, 180, 99.98), step(800, 905, 640, 99.2),
    ]  # fmt: skip
    return chart_capacity(steps, path, Slo())


def panels(figure: Figure) -> dict[str, Axes]:
    return {axes.get_ylabel(): axes for axes in figure.axes}


def lines(axes: Axes) -> dict[str, tuple[list[float], list[float]]]:
    """The axes' lines by label: x and y data."""
    return {
        str(line.get_label()): (list(line.get_xdata()), list(line.get_ydata()))  # type: ignore[arg-type]
        for line in axes.lines
    }


def spans(axes: Axes) -> dict[str, tuple[float, float]]:
    """The shaded spans by label: where they begin and end on the x axis."""
    return {
        str(patch.get_label()): (patch.get_x(), patch.get_x() + patch.get_width())
        for patch in axes.patches
        if isinstance(patch, Rectangle)
    }


def test_the_latency_panel_draws_the_slo_bounds(tmp_path: Path) -> None:
    slo = Slo(success=99.5, p95_ms=80, p99_ms=200)
    figure = chart_over_time(k6_run(pcs=3, seconds=4), tmp_path / "chart.png", "t", [], slo)
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)
    drawn = lines(panels(figure)["latency (ms)"])
    assert drawn["SLO p95 80 ms"][1] == [80, 80]
    assert drawn["SLO p99 200 ms"][1] == [200, 200]
    assert {"p50", "p95", "p99"} <= set(drawn)


def test_the_errors_panel_has_each_seconds_wrong_answers_and_the_slos_allowance(
    tmp_path: Path,
) -> None:
    samples = Samples()
    rows = [HEADER]
    for second, verdicts in enumerate([[1, 1], [1, 1, 1, 0], [], [0, 1], [1]]):
        for n, right in enumerate(verdicts):
            ms = 1_000_000 + 1000 * second + 100 * n
            rows += [
                _row("http_req_duration", ms, 5, "GET /x"),
                _row("fichas_answered", ms, right, "GET /x"),
            ]
    samples.read(rows, lambda second, tally: None)  # seconds 1000 (full) to 1004 (partial)

    figure = chart_over_time(samples, tmp_path / "chart.png", "t", [], Slo(success=99))
    errors = lines(panels(figure)["answered wrong (%)"])
    x, failed = errors["answered wrong"]
    assert x == [0.5, 1.5, 2.5, 3.5]  # each second at its middle
    assert failed[:2] == [0, 25]
    assert isnan(failed[2])  # none asked: a gap
    assert failed[3] == 50
    assert errors["SLO allows 1 %"][1] == pytest.approx([1, 1])
    requests = lines(panels(figure)["requests / s"])["requests / s"][1]
    assert requests == [2, 4, 0, 2]
    p99 = lines(panels(figure)["latency (ms)"])["p99"][1]
    assert isnan(p99[2])  # not 0 ms


def test_an_slo_that_allows_no_error_has_no_line_for_it(tmp_path: Path) -> None:
    samples = k6_run(pcs=3, seconds=3, think=0)
    figure = chart_over_time(samples, tmp_path / "chart.png", "t", [], Slo(success=100))
    assert set(lines(panels(figure)["answered wrong (%)"])) == {"answered wrong"}


def test_only_the_runs_full_seconds_are_drawn(tmp_path: Path) -> None:
    samples = k6_run(pcs=5, seconds=6, think=0)  # START_MS is 0.437 s into a clock second
    figure = chart_over_time(samples, tmp_path / "chart.png", "t", [], Slo())
    ended = (samples.last_ms or 0) / 1000 - min(samples.by_second)  # on the x axis
    pace = panels(figure)["requests / s"]
    x = lines(pace)["requests / s"][0]
    assert x[0] == 1.5  # the run's first second, from 0.437 s on, is left out
    assert x[-1] + 0.5 <= ended < x[-1] + 1.5  # and so is the one it ended in
    assert x == [n + 0.5 for n in range(1, len(x) + 1)]  # every second between, once
    assert pace.get_xlim() == (1, x[-1] + 0.5)
    partial = [len(samples.by_second[second].durations) for second in sorted(samples.by_second)]
    assert partial[0] < min(lines(pace)["requests / s"][1])  # what the chart used to show


def test_the_ramp_is_shaded_and_in_the_legend(tmp_path: Path) -> None:
    samples = k6_run(pcs=10, seconds=4, think=0.3)  # a 3 s ramp
    figure = chart_over_time(samples, tmp_path / "chart.png", "t", [Event(4.2, "kill -9")], Slo())
    pace = panels(figure)["requests / s"]
    begin, end = samples.full_load  # from the first sample; the x axis counts from the start
    offset = (samples.first_ms or 0) / 1000 - min(samples.by_second)  # of its clock second
    assert spans(pace)["ramp: PCs arriving"] == pytest.approx((1, begin + offset))  # from x's start
    assert 2.5 < begin < 3.1
    assert spans(pace)["tail: sessions finishing"][0] == pytest.approx(end + offset)
    legend = pace.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "requests / s", "ramp: PCs arriving", "tail: sessions finishing"
    ]  # fmt: skip
    for axes in figure.axes:  # shaded in every panel, the event marked in each
        assert len(spans(axes)) == 2
        assert [4.2, 4.2] in [list(line.get_xdata()) for line in axes.lines]  # type: ignore[arg-type]


def test_without_a_think_time_nothing_is_shaded(tmp_path: Path) -> None:
    figure = chart_over_time(k6_run(pcs=3, seconds=3, think=0), tmp_path / "c.png", "t", [], Slo())
    assert all(not spans(axes) for axes in figure.axes)


def test_a_run_too_short_for_a_full_second_still_has_a_chart(tmp_path: Path) -> None:
    samples = Samples()
    samples.read([HEADER, _row("http_req_duration", 1_000_500, 5, "GET /x")], lambda s, t: None)
    assert samples.full_seconds == range(0)
    chart_over_time(samples, tmp_path / "chart.png", "t", [], Slo())
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)


def test_the_capacity_chart_has_the_same_panels_per_step(tmp_path: Path) -> None:
    steps = [step(15, 29, 38), step(400, 702, 180, 99.98), step(800, 905, 640, 99.2)]
    figure = chart_capacity(steps, tmp_path / "chart.png", Slo(p95_ms=90, p99_ms=300))
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)
    by_panel = {label: lines(axes) for label, axes in panels(figure).items()}
    assert by_panel["requests / s"]["requests / s"] == ([15, 400, 800], [29, 702, 905])
    assert by_panel["latency (ms)"]["p99"][1] == [38, 180, 640]
    assert by_panel["latency (ms)"]["SLO p95 90 ms"][1] == [90, 90]
    assert by_panel["latency (ms)"]["SLO p99 300 ms"][1] == [300, 300]
    failed = by_panel["answered wrong (%)"]["answered wrong"][1]
    assert failed == pytest.approx([0, 0.02, 0.8])
    assert by_panel["answered wrong (%)"]["SLO allows 0.1 %"][1] == pytest.approx([0.1, 0.1])
    assert by_panel["requests / s"]["missed the SLO"][0] == [800, 800]  # as the run said
    ticks = panels(figure)["answered wrong (%)"].get_xticklabels()
    assert [tick.get_text() for tick in ticks] == ["15", "400", "800"]


def test_the_documentation_chart_of_a_run(tmp_path: Path) -> None:
    figure = example_run(tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)
    pace = panels(figure)["requests / s"]
    ramp = spans(pace)["ramp: PCs arriving"]
    assert ramp[0] == 1  # the first full second
    assert 4 < ramp[1] < 5.5  # 5 s after the first PC, in the clock second after the first sample
    failed = lines(panels(figure)["answered wrong (%)"])["answered wrong"][1]
    assert 0 < max(failed) < 20  # the bad moment's


def test_the_documentation_chart_of_capacity(tmp_path: Path) -> None:
    figure = example_capacity(tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)
    assert lines(panels(figure)["requests / s"])["missed the SLO"][0] == [800, 800]
