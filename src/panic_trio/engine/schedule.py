"""Time rules of a run, as pure functions of plain numbers (seconds).

The runner feeds them Trio time only, so tests with ``MockClock`` are exact.
"""

from __future__ import annotations

from panic_trio.settings import BackoffTiers


def backoff_delay(run_age: float, tiers: BackoffTiers) -> float:
    """The pause before the next invocation for a run this old.

    With the default tiers: under 10 min → 1 s, under 1 h → 15 s, else 10 min.
    """
    for age_limit, delay in tiers:
        if run_age < age_limit:
            return delay
    return tiers[-1][1]


def next_delay(run_age: float, tiers: BackoffTiers, *, floor: float = 0.0) -> float:
    """The backoff, but never less than ``floor`` (e.g. 8 s after a Vestaboard push).

    It is the larger of the two, not their sum.
    """
    return max(backoff_delay(run_age, tiers), floor)


def lockout_remaining(genesis_at: float, now: float, lockout_seconds: float) -> float:
    """Seconds until a new prompt may replace the run that started at ``genesis_at``."""
    return max(0.0, genesis_at + lockout_seconds - now)
