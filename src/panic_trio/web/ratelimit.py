"""Token-bucket rate limits per client key (sign-in attempts, prompts).

In memory and per process: enough to stop a script hammering one server.
Buckets refill continuously; a full bucket is forgotten, so memory is bounded
by the number of clients active within one refill period.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final

import trio

MAX_KEYS: Final = 10_000


class RateLimiter:
    """Allows ``capacity`` hits per key, refilled over ``per_seconds``.

    Uses Trio time, so tests can drive it with a mock clock (or pass
    ``clock``).
    """

    def __init__(
        self,
        capacity: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        if capacity < 1 or per_seconds <= 0:
            raise ValueError("capacity must be >= 1 and per_seconds > 0")
        self.capacity = capacity
        self.rate = capacity / per_seconds
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, time)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        return min(float(self.capacity), tokens + (now - at) * self.rate)

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may hit again (0 if it may now); consumes nothing."""
        tokens = self._tokens(key, self._clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def hit(self, key: str) -> float:
        """Consume one hit; returns 0 if allowed, else the seconds to wait."""
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens < 1:
            return (1 - tokens) / self.rate
        if len(self._buckets) >= MAX_KEYS:
            self._prune(now)
        self._buckets[key] = (tokens - 1, now)
        return 0.0

    def hit_all(self, keys: Sequence[str]) -> float:
        """One hit on every key, or on none: 0 if allowed, else the seconds to wait.

        No checkpoint between checking and charging, so concurrent requests
        can never all pass a check before any of them is counted.
        """
        wait = max(self.retry_after(key) for key in keys)
        if wait > 0:
            return wait
        for key in keys:
            self.hit(key)
        return 0.0

    def refund(self, key: str) -> None:
        """Give back one hit (the attempt succeeded: it was no guess)."""
        now = self._clock()
        tokens = self._tokens(key, now) + 1
        if tokens >= self.capacity:
            self._buckets.pop(key, None)
        else:
            self._buckets[key] = (tokens, now)

    def reset(self, key: str) -> None:
        """Forget ``key`` (e.g. after a successful sign-in)."""
        self._buckets.pop(key, None)

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._tokens(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_KEYS:  # still full of busy clients: start afresh
            self._buckets.clear()


def whole_seconds(seconds: float) -> int:
    """Seconds for a ``Retry-After`` header: whole, rounded up, at least 1."""
    return max(1, math.ceil(seconds))


class InFlight:
    """At most ``limit`` operations at once per key (sign-ins being verified)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._running: Counter[str] = Counter()

    @contextmanager
    def hold(self, keys: Sequence[str]) -> Iterator[bool]:
        """Yields ``True`` and counts the keys if every one has room, else ``False``."""
        if any(self._running[key] >= self.limit for key in keys):
            yield False
            return
        self._running.update(keys)
        try:
            yield True
        finally:
            self._running.subtract(keys)
            for key in keys:
                if self._running[key] <= 0:
                    del self._running[key]
