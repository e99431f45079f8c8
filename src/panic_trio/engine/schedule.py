"""Time rules of a run, as pure functions of plain numbers (seconds).

The runner feeds them Trio time only, so tests with ``MockClock`` are exact.
"""

from __future__ import annotations

from typing import Final

from panic_trio.settings import BackoffTiers

RESOURCE_PAUSES: Final = (1.0, 2.0, 5.0, 10.0, 30.0)


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


def resource_pause(pauses_so_far: int) -> float:
    """The pause before trying a step again after the machine ran out of files or memory.

    Short at first (a flood of connections usually ends quickly), then every
    30 s for as long as it lasts: the run is paused, never failed, for this.
    """
    return RESOURCE_PAUSES[min(pauses_so_far, len(RESOURCE_PAUSES) - 1)]
