"""What ``fichas up`` prints: lines for a person on a terminal, JSON lines for machines
elsewhere; progress, then a short block with what to do next; and an idle cluster is quiet — the
health checks that run every second are not logged at info (a PC's /health still is)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from loadtest.target import own_cluster

LOG_ONE_LINE = (
    "import logging; from observability.logs import configure_logging; "
    "configure_logging('info', 'api-9', {format!r}); "
    "logging.getLogger('fichas.access').info('GET /clientes 200', extra={{'duration_ms': 3.14}})"
)


def logged(log_format: str, *, terminal: bool) -> str:
    """What one access line looks like from a process whose stdout is a terminal (a real
    pseudo-terminal) or a pipe."""
    argv = [sys.executable, "-c", LOG_ONE_LINE.format(format=log_format)]
    if not terminal:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    controller, terminal_end = pty.openpty()
    process = subprocess.Popen(argv, stdout=terminal_end, stderr=terminal_end)
    os.close(terminal_end)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=30)
    os.close(controller)
    return output.decode().replace("\r\n", "\n")


def test_a_terminal_gets_lines_for_people_anything_else_json() -> None:
    on_terminal = logged("auto", terminal=True)
    assert re.fullmatch(r"api-9 +\d\d:\d\d:\d\d INFO +GET /clientes 200 3\.1 ms\n", on_terminal)
    piped = json.loads(logged("auto", terminal=False))
    assert (piped["level"], piped["instance"], piped["message"]) == (
        "INFO",
        "api-9",
        "GET /clientes 200",
    )
    assert piped["duration_ms"] == 3.14
    assert json.loads(logged("json", terminal=True))["instance"] == "api-9"  # asked for
    assert logged("console", terminal=False).split()[:3:2] == ["api-9", "INFO"]


def test_start_up_ends_with_the_summary_and_an_idle_cluster_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FICHAS_LOG_LEVEL", "info")  # the access log and the progress lines
    log = tmp_path / "cluster.log"
    with own_cluster(tmp_path, 2, log) as target:
        started = log.read_text()
        lines = started.splitlines()
        first = lines.index(f"fichas is up on {target.url} with 2 instances")
        last = next(n for n in range(first, len(lines)) if lines[n].startswith("  stop "))
        labels = [line.split()[0] for line in lines[first + 1 : last + 1]]
        assert labels[:2] == ["admin", "status"], lines[first:]
        assert all(line.startswith("  ") for line in lines[first + 1 : last + 1]), lines[first:]
        # Every start-up line comes before the block; after it, only what runs from then on
        # (the backup the scheduler takes at once) may speak.
        progress = [
            n
            for n, line in enumerate(lines)
            if '"fichas.supervisor"' in line and re.search(r"healthy|ready", line)
        ]
        assert progress, lines
        assert max(progress) < first, lines
        assert re.search(r"api-1 healthy \(1/2\).*api-2 healthy \(2/2\)", started, re.DOTALL)
        time.sleep(4)  # idle: ~8 health checks of each instance by Caddy, the supervisor's too
        httpx2.get(f"{target.url}/health", timeout=5)  # a PC's, through the proxy
        time.sleep(1)
        after = log.read_text()[len(started) :].splitlines()
    lines_after = [json.loads(line) for line in after if line.startswith("{")]
    health = [line for line in lines_after if line.get("route") == "/health"]
    # One line: the PC's (forwarded by the proxy); none for the probes, nor for Caddy's checks.
    assert len(health) == 1, after
    assert not [line for line in after if "health_checker" in line]
