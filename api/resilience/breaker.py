"""Circuit breakers: stop calling a dependency that keeps failing, and try it again later.

closed → open after ``threshold`` failures in a row; while open every call is refused at once
(``CircuitOpen``, which the API answers 503 + Retry-After); after ``cooldown`` seconds one call
is let through (half-open): its success closes the breaker, its failure opens it again.

Hand-written rather than pybreaker: pybreaker lets every call through while half-open (against
a locked database, each would wait out the busy timeout: the pile-up the breaker is there to
prevent), and its ``call()`` holds a lock for the whole guarded call. This is the small part of
it we need, thread-safe (database calls run on worker threads) and usable around ``await``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from observability.metrics import BREAKER_STATES, Metrics


class CircuitOpen(Exception):
    """Refused without trying: the dependency failed too often lately."""

    def __init__(self, breaker: str, retry_after: float) -> None:
        super().__init__(f"the {breaker} circuit breaker is open")
        self.breaker = breaker
        self.retry_after = retry_after


class Breaker:
    def __init__(
        self,
        name: str,
        metrics: Metrics,
        is_failure: Callable[[BaseException], bool],
        *,
        threshold: int = 5,
        cooldown: float = 5.0,
    ) -> None:
        self.name = name
        self.metrics = metrics
        self.is_failure = is_failure
        self.threshold = threshold
        self.cooldown = cooldown
        self.state = "closed"
        self._failed_in_a_row = 0
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()
        for state in BREAKER_STATES:
            metrics.breaker_state.labels(name, state).set(state == "closed")
        # Resolved once: a label lookup per call would cost more than the rest of the breaker.
        self._calls = {
            outcome: metrics.breaker_calls.labels(name, outcome)
            for outcome in ("success", "failure", "rejected")
        }

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the block through the breaker; raise CircuitOpen instead when it is open."""
        probe = self._admit()
        try:
            yield
        except BaseException as exc:
            # Only the dependency's own failures count: a 404 or a conflict means it answered.
            self._settle(succeeded=not self.is_failure(exc), probe=probe)
            raise
        self._settle(succeeded=True, probe=probe)

    def _admit(self) -> bool:
        """Whether the call is the half-open probe; raise CircuitOpen to refuse it."""
        with self._lock:
            if self.state == "closed":
                return False
            waited = time.monotonic() - self._opened_at
            if self.state == "open" and waited >= self.cooldown:
                self._move("half_open")
            if self.state == "half_open" and not self._probing:
                self._probing = True
                return True
            self._calls["rejected"].inc()
            raise CircuitOpen(self.name, max(self.cooldown - waited, 1.0))

    def _settle(self, *, succeeded: bool, probe: bool) -> None:
        with self._lock:
            self._calls["success" if succeeded else "failure"].inc()
            if probe:
                self._probing = False
            if succeeded:
                self._failed_in_a_row = 0
                if probe:
                    self._move("closed")
                return
            self._failed_in_a_row += 1
            if probe or (self.state == "closed" and self._failed_in_a_row >= self.threshold):
                self._opened_at = time.monotonic()
                self._move("open")

    def _move(self, state: str) -> None:
        self.metrics.breaker_transitions.labels(self.name, self.state, state).inc()
        self.metrics.breaker_state.labels(self.name, self.state).set(0)
        self.metrics.breaker_state.labels(self.name, state).set(1)
        self.state = state
