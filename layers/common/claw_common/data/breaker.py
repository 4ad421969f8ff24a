"""A small circuit breaker: after repeated failures of a dependency, stop waiting for it for a while.

Closed (normal) → after ``failure_threshold`` consecutive failures → open: calls are refused
at once for ``reset_timeout_s`` → half-open: one trial call goes through; its success closes
the circuit, its failure opens it again. Thread-safe; the clock is injectable for tests.

Used for Redis/Valkey (``claw_common.data.redis_client``): a hung cache would otherwise cost
every command its full socket timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures and refuses calls while open (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 2,
        reset_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[CircuitBreaker], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_timeout_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout_s > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._on_open = on_open
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> State:
        """The state now (an open circuit whose timeout passed reads as half-open)."""
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout_s:
                return "half_open"
            return self._state

    def allow(self) -> bool:
        """True when a call may go ahead now (closed, or the single trial of a half-open circuit)."""
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open":
                if self._clock() - self._opened_at < self.reset_timeout_s:
                    return False
                self._state = "half_open"
                self._trial_in_flight = False
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        """The dependency answered: close the circuit."""
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        """The dependency failed (refused, timed out): count it; open at the threshold or after a failed trial."""
        opened = False
        with self._lock:
            self._failures += 1
            if self._state == "half_open" or self._failures >= self.failure_threshold:
                opened = self._state != "open"
                self._state = "open"
                self._opened_at = self._clock()
                self._trial_in_flight = False
        if opened and self._on_open is not None:
            self._on_open(self)

    def retry_after_s(self) -> float:
        """Seconds until the next trial (0 when closed or half-open)."""
        with self._lock:
            if self._state != "open":
                return 0.0
            return max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))


__all__ = ["CircuitBreaker", "State"]
