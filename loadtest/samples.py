"""What a k6 run measured, gathered from the CSV samples k6 streams while it runs.

k6's own summary has run-wide figures only; the report also needs them per endpoint and per
second (for the chart), so every request's sample is kept: a 60 s run at 1,500 req/s is ~100,000
floats, nothing to worry about.

The script tags each request with its phase: ``ramp`` while the PCs arrive (with a think time,
see the script), ``full`` while all of them work, ``tail`` while they finish the sessions the end
cut. Every request is drawn on the chart and counted in the success rate; only the full load's
are timed in the per-endpoint figures and the pace — as only they are by k6's latency thresholds.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

# The two metrics read: every HTTP request's duration (ms), and the script's verdict on every
# request a PC needed answered (1 right, 0 not), both tagged with the endpoint's name.
DURATION, ANSWERED = "http_req_duration", "fichas_answered"
FULL_LOAD = "phase=full"


@dataclass
class Tally:
    """Requests and verdicts of one endpoint, or of one second of the run."""

    durations: list[float] = field(default_factory=list)
    answered: int = 0
    wrong: int = 0

    @property
    def success(self) -> float:
        """% of requests answered right (100 when none was asked)."""
        asked = self.answered + self.wrong
        return 100.0 * self.answered / asked if asked else 100.0

    def percentiles(self, *ranks: float) -> list[float]:
        if not self.durations:
            return [0.0 for _ in ranks]
        return [float(p) for p in np.percentile(self.durations, ranks)]

    def add(self, other: Tally) -> None:
        self.durations += other.durations
        self.answered += other.answered
        self.wrong += other.wrong


@dataclass(frozen=True)
class Wrong:
    """A request answered wrong: when (ms), which endpoint, and why, from the script's tags."""

    ms: int
    endpoint: str
    why: str


@dataclass
class Samples:
    by_endpoint: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))  # full load
    by_second: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))  # all phases
    wrong: list[Wrong] = field(default_factory=list)

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.by_endpoint.values():
            total.add(tally)
        return total

    first_ms: int | None = None
    last_ms: int | None = None
    first_timed_ms: int | None = None  # the full load's first request and last
    last_timed_ms: int | None = None

    @property
    def seconds(self) -> float:
        """How long requests were made: from the first sample to the last."""
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return max(self.last_ms - self.first_ms, 1) / 1000

    @property
    def full_load(self) -> tuple[float, float]:
        """When the full load began and ended, in seconds from the first request; before it the
        ramp, after it the tail."""
        if self.first_ms is None or self.first_timed_ms is None or self.last_timed_ms is None:
            return 0.0, 0.0
        start = self.first_ms
        return (self.first_timed_ms - start) / 1000, (self.last_timed_ms - start) / 1000

    @property
    def full_seconds(self) -> range:
        """The seconds, as ``by_second`` keys them, that the run lasted all through (one
        without a request has no key). A sample is filed under the clock's second it is stamped
        in (``ms // 1000``), not under seconds from the run's start, so the run began somewhere
        inside its first second and ended somewhere inside its last: those two hold a fraction
        of a second's requests (a dip or spike on the chart that nothing in the system caused).
        A second is full when the first sample is at or before its first millisecond and the
        last at or after its last (its 999th)."""
        if self.first_ms is None or self.last_ms is None:
            return range(0)
        return range((self.first_ms + 999) // 1000, (self.last_ms + 1) // 1000)

    def rate(self, seconds: float) -> float:
        """Requests per second at full load, which lasted ``seconds``: the run proper, neither
        the ramp nor the tail in which the PCs finish the sessions the end cut."""
        timed = sum(len(tally.durations) for tally in self.by_endpoint.values())
        return timed / seconds if seconds > 0 else 0.0

    def read(self, lines: Iterable[str], on_second: Callable[[int, Tally], None]) -> None:
        """Take k6's CSV output (header first, times in ms), calling ``on_second`` as each
        second completes. Requests of the script's setup (k6 group ``::setup``) are not the PCs'
        and are left out."""
        rows = iter(lines)
        header = next(csv.reader([next(rows, "")]))
        if not header:
            return
        columns = ("metric_name", "timestamp", "metric_value", "name", "group", "extra_tags")
        metric, stamp, value, name, group, tags = (header.index(column) for column in columns)
        status, error_code = header.index("status"), header.index("error_code")
        current: int | None = None
        for line in rows:
            # The other metrics (a dozen per request) are skipped before any CSV parsing.
            if not line.startswith((DURATION + ",", ANSWERED + ",")):
                continue
            row = next(csv.reader([line]))
            if row[group] == "::setup":
                continue
            ms = int(row[stamp])
            self.first_ms = ms if self.first_ms is None else min(self.first_ms, ms)
            self.last_ms = ms if self.last_ms is None else max(self.last_ms, ms)
            second = ms // 1000
            if current is not None and second > current:
                on_second(current - min(self.by_second), self.by_second[current])
            current = second if current is None else max(current, second)
            if row[metric] == DURATION:
                self.by_second[second].durations.append(float(row[value]))
                if FULL_LOAD in row[tags].split("&"):
                    self.by_endpoint[row[name]].durations.append(float(row[value]))
                    self.first_timed_ms = min(ms, self.first_timed_ms or ms)
                    self.last_timed_ms = max(ms, self.last_timed_ms or ms)
            else:
                right = float(row[value]) > 0
                for tally in (self.by_endpoint[row[name]], self.by_second[second]):
                    tally.answered += right
                    tally.wrong += not right
                if not right:
                    why = _why(row[tags], row[status], row[error_code])
                    self.wrong.append(Wrong(ms, row[name], why))


def _why(tags: str, status: str, error_code: str) -> str:
    """'status 502', 'status 0 (k6 error 1211)' or 'status 200, body wrong', from the tags the
    script puts on a wrong answer: the first check it failed, its status, k6's error code."""
    check = dict(tag.partition("=")[::2] for tag in tags.split("&")).get("wrong", "status")
    error = f" (k6 error {error_code})" if error_code else ""
    return f"status {status}{error}" + ("" if check == "status" else f", {check} wrong")
