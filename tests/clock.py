"""A clock the test moves, in place of the ``time`` module of the code under test: waits that
the code measures (breaker cooldowns, cached keys, rate-limit windows) pass at once, and exactly
as long as the test says."""

from __future__ import annotations

from types import ModuleType

import pytest


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def install(self, monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> Clock:
        """This clock as ``time`` in each of ``modules`` (undone when the test ends)."""
        for module in modules:
            monkeypatch.setattr(module, "time", self)
        return self
