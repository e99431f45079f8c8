"""Spending caps as pure rules: which cap a call would break, and until when.

A cap is checked before every call: the call may start only if what was
spent plus what the call is expected to cost stays within the cap. The
expected cost is the model's fixed price per call where it has one, else what
the same model cost last time (else nothing), so a network capped at $0.05
with a model at $0.02 runs exactly two steps. Days start at midnight in the
cap time zone (``PANIC_CAP_TIMEZONE``); the wall clock is passed in, so tests
drive it from Trio's ``MockClock``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Final, Literal

from panic_trio.domain import iso, usd

CapScope = Literal["network-day", "network-run", "global-day"]
# Float sums of decimal prices: 0.02 + 0.02 + 0.02 is a hair over 0.06.
TOLERANCE_USD: Final = 1e-9


def day_start(now: datetime, zone: tzinfo) -> datetime:
    """The last midnight in ``zone`` before ``now``, in UTC."""
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


def next_day_start(now: datetime, zone: tzinfo) -> datetime:
    """The next midnight in ``zone`` after ``now``, in UTC (DST-safe)."""
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Limits:
    """The caps that apply to one network (USD; ``None``: no cap)."""

    network_day: float | None = None
    run: float | None = None
    global_day: float | None = None

    @property
    def any(self) -> bool:
        """True if at least one cap is set."""
        return any(v is not None for v in (self.network_day, self.run, self.global_day))


@dataclass(frozen=True, slots=True)
class CapBreach:
    """A call that would go past a cap: which, how much, and when prompts work again."""

    scope: CapScope
    limit: float
    resumes_at: datetime | None
    resumes_local: str = ""  # e.g. "00:00 on Wednesday 02 December (Europe/Berlin)"

    @property
    def error(self) -> str:
        """The invocation's ``metadata.error``."""
        words = {
            "network-day": "daily spending cap",
            "network-run": "per-run spending cap",
            "global-day": "global daily spending cap",
        }[self.scope]
        return f"{words} of {usd(self.limit)} reached"

    @property
    def plain(self) -> str:
        """What a visitor at the terminal reads."""
        if self.scope == "network-run":
            return (
                f"This run has spent its budget of {usd(self.limit)} and stopped. "
                "A new prompt starts a new run."
            )
        who = "This network" if self.scope == "network-day" else "The installation"
        return (
            f"{who} has spent today's budget of {usd(self.limit)}. "
            f"It accepts prompts again at {self.resumes_local}."
        )

    def to_json(self) -> dict[str, Any]:
        """The invocation's ``metadata.cap``."""
        return {
            "scope": self.scope,
            "limit": self.limit,
            "currency": "USD",
            "resumes_at": iso(self.resumes_at),
            "message": self.plain,
        }


def breach(
    limits: Limits,
    *,
    network_day: float | None,
    run: float | None,
    global_day: float | None,
    expected: float | None,
    now: datetime,
    zone: tzinfo,
) -> CapBreach | None:
    """The first cap that spent-so-far plus ``expected`` would pass, or ``None``.

    ``expected`` is ``None`` when the next call's cost cannot be told in
    advance: then only a cap already reached stops it (so a cap of 0 allows
    free models only). Day caps come first: they say when prompts are
    accepted again.
    """
    checks: tuple[tuple[CapScope, float | None, float | None], ...] = (
        ("global-day", limits.global_day, global_day),
        ("network-day", limits.network_day, network_day),
        ("network-run", limits.run, run),
    )
    for scope, limit, spent in checks:
        if limit is None or spent is None:
            continue
        over = spent + (expected or 0.0) > limit + TOLERANCE_USD
        if over or (expected is None and spent >= limit - TOLERANCE_USD):
            if scope == "network-run":
                return CapBreach(scope, limit, None)
            return day_breach(scope, limit, now, zone)
    return None


def day_breach(scope: CapScope, limit: float, now: datetime, zone: tzinfo) -> CapBreach:
    """A day cap reached at ``now``: it holds until the next midnight in ``zone``."""
    resumes = next_day_start(now, zone)
    local = resumes.astimezone(zone)
    return CapBreach(scope, limit, resumes, f"{local:%H:%M on %A %d %B} ({zone})")
