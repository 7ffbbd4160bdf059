"""Runs k6 on the PC script, with the SLO as thresholds, and gathers its samples as they come.

k6 writes its CSV samples into a pipe it inherits (``--out csv=/dev/fd/N``), so nothing grows on
disk and the runner can show progress while k6 runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fichas.processes import binary
from loadtest.samples import ANSWERED, DURATION, Samples, Tally

SCRIPT = Path(__file__).parent / "scripts" / "pcs.js"

# k6's exit status when a threshold failed, i.e. the SLO was missed.
THRESHOLDS_FAILED = 99

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")


def seconds(duration: str) -> float:
    """``90s``, ``2m``, ``1m30s``, ``500ms`` or a bare number of seconds, in seconds."""
    text = duration.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION.match(text)
    if not text or parts is None:
        raise ValueError(f"not a duration: {duration!r} (write e.g. 60s, 2m, 1m30s, 500ms)")
    hours, minutes, secs, millis = (float(p) if p else 0.0 for p in parts.groups())
    return hours * 3600 + minutes * 60 + secs + millis / 1000


@dataclass(frozen=True)
class Slo:
    """What the run must achieve; k6 thresholds, so k6 itself says whether it held."""

    success: float = 99.9  # % of requests answered right
    p95_ms: float = 100.0
    p99_ms: float = 250.0

    def thresholds(self) -> dict[str, list[str]]:
        return {
            ANSWERED: [f"rate>={_plain(self.success / 100)}"],  # every request, ramp too
            # At full load: not while the PCs are still arriving (see the script's ramp).
            f"{DURATION}{{phase:full}}": [
                f"p(95)<={_plain(self.p95_ms)}",
                f"p(99)<={_plain(self.p99_ms)}",
            ],
        }

    def describe(self) -> str:
        return f"success ≥ {self.success} %, p95 ≤ {self.p95_ms:g} ms, p99 ≤ {self.p99_ms:g} ms"


def _plain(number: float) -> str:
    """A number as k6's threshold parser reads it: no exponent, no trailing zeros."""
    return f"{number:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Load:
    url: str
    tokens: list[str]  # the PCs' API keys, shared round-robin
    pcs: int
    seconds: float  # at full load, after the PCs' ramp
    think: float  # seconds an operator pauses after each request


@dataclass
class Run:
    load: Load
    exit_code: int
    samples: Samples
    summary: dict[str, Any] = field(default_factory=dict)  # k6's own end-of-test summary

    @property
    def slo_met(self) -> bool:
        return self.exit_code == 0

    @property
    def broken_thresholds(self) -> list[str]:
        """The SLO's thresholds k6 found crossed, e.g.
        ``http_req_duration{phase:full} p(99)<=250``."""
        return [
            f"{metric} {expression}"
            for metric, figures in self.summary.get("metrics", {}).items()
            for expression, verdict in figures.get("thresholds", {}).items()
            if not verdict.get("ok", True)
        ]


class Progress:
    """Prints a line every ``every`` seconds of the run: pace, latency, answers so far."""

    def __init__(self, label: str, every: int = 5, out: Callable[[str], None] = print) -> None:
        self.label, self.every, self.out = label, every, out
        self.window = Tally()

    def __call__(self, second: int, tally: Tally) -> None:
        self.window.add(tally)
        if (second + 1) % self.every == 0:
            p99 = self.window.percentiles(99)[0]
            rate = len(self.window.durations) / self.every
            self.out(
                f"  {self.label} {second + 1:>4} s  {rate:>8,.0f} req/s  p99 {p99:>7.1f} ms  "
                f"answered right {self.window.success:6.2f} %"
            )
            self.window = Tally()


@contextmanager
def running(
    load: Load, slo: Slo, results: Path, progress: Callable[[int, Tally], None]
) -> Iterator[Callable[[], Run]]:
    """Start k6; the block may act on the system under test while k6 runs, then call the
    yielded function to wait for the end and get the run. k6 is killed if the block fails."""
    results.mkdir(parents=True, exist_ok=True)
    summary_path = results / "k6-summary.json"
    # The keys go to k6 in a file readable by us only, removed when k6 is done.
    tokens_path = results / "tokens.json"
    tokens_path.touch(mode=0o600)
    tokens_path.write_text(json.dumps(load.tokens))
    env = {
        **os.environ,
        "FICHAS_URL": load.url,
        "FICHAS_TOKENS_FILE": str(tokens_path.resolve()),
        "FICHAS_PCS": str(load.pcs),
        "FICHAS_DURATION": f"{load.seconds:g}",
        "FICHAS_THINK": f"{load.think:g}",
        "FICHAS_THRESHOLDS": json.dumps(slo.thresholds()),
        "FICHAS_SUMMARY": str(summary_path),
        "K6_NO_USAGE_REPORT": "true",  # no phoning home
        "K6_CSV_TIME_FORMAT": "unix_milli",
    }
    read_end, write_end = os.pipe()
    with (results / "k6.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our binary, our script
            [
                binary("k6", "k6"),
                "run",
                "--quiet",
                "--out",
                f"csv=/dev/fd/{write_end}",
                str(SCRIPT),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
        )
    os.close(write_end)
    samples = Samples()

    def gather() -> None:
        with os.fdopen(read_end, encoding="utf-8", newline="") as stream:
            samples.read(stream, progress)

    reader = threading.Thread(target=gather, name="k6-samples", daemon=True)
    reader.start()

    def finish() -> Run:
        code = process.wait()
        reader.join()
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        return Run(load, code, samples, summary)

    try:
        yield finish
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        tokens_path.unlink(missing_ok=True)
