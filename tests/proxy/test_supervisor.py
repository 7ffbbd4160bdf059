"""The supervisor on its own, with small stand-in processes instead of API instances."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from proxy.supervisor import Child, Supervisor


def _child(name: str, code: str) -> Child:
    return Child(name=name, argv=[sys.executable, "-c", code], env=dict(os.environ))


STAYS_UP = "import time; time.sleep(60)"
DIES_SOON = "import sys, time; time.sleep(0.3); sys.exit(3)"


@pytest.mark.slow
def test_a_process_that_keeps_dying_is_restarted_then_given_up_on(tmp_path: Path) -> None:
    flaky, proxy = _child("api-1", DIES_SOON), _child("caddy", STAYS_UP)
    supervisor = Supervisor(
        [flaky], proxy, tmp_path / "status.json", crash_limit=3, crash_window=60
    )
    started = time.monotonic()
    assert asyncio.run(supervisor.run()) == 1
    assert flaky.restarts == 2  # restarted twice; the third death ends it
    assert 0.5 + 1.0 <= time.monotonic() - started < 20  # with backoff between the restarts
    assert proxy.process is not None
    assert proxy.process.returncode is not None  # everything else was stopped too
    assert not (tmp_path / "status.json").exists()


def test_a_crash_is_restarted_and_recorded(tmp_path: Path) -> None:
    instance, proxy = _child("api-1", STAYS_UP), _child("caddy", STAYS_UP)
    supervisor = Supervisor([instance], proxy, tmp_path / "status.json")

    async def scenario() -> int:
        ready = asyncio.Event()
        running = asyncio.create_task(supervisor.run(ready))
        await ready.wait()
        first = instance.process
        assert first is not None
        first.kill()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if instance.process is not first:
                break
        assert instance.process is not first
        assert instance.restarts == 1
        assert '"restarts": 1' in (tmp_path / "status.json").read_text()
        os.kill(os.getpid(), 15)  # SIGTERM to ourselves: the supervisor's graceful stop
        return await running

    assert asyncio.run(scenario()) == 0
