"""Sync queries for money spent: sums of ``invocations.cost`` over time windows.

Every completed invocation has ``cost_at`` (when it was spent) and ``cost``
(USD, null when no price is known). The sums are index range scans:
``ix_invocations_spend (network_id, cost_at)`` for one network,
``ix_invocations_cost_at`` for all of them, and the run's unique index for a
run. Unknown costs are counted, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from panic_trio.store.schema import invocations as _T


@dataclass(frozen=True, slots=True)
class Window:
    """Spend in one window: known USD, and how many steps had no known cost."""

    amount: float = 0.0
    unknown: int = 0

    def to_json(self) -> dict[str, Any]:
        """``{"amount": usd, "unknown": n}`` (amount rounded to a millionth of a cent)."""
        return {"amount": round(self.amount, 8), "unknown": self.unknown}

    def __add__(self, other: Window) -> Window:
        return Window(self.amount + other.amount, self.unknown + other.unknown)


@dataclass(frozen=True, slots=True)
class BurnRate:
    """What was spent in the last hour, today (since midnight) and the last 7 days."""

    hour: Window = Window()
    today: Window = Window()
    week: Window = Window()

    def __add__(self, other: BurnRate) -> BurnRate:
        return BurnRate(self.hour + other.hour, self.today + other.today, self.week + other.week)

    def to_json(self) -> dict[str, Any]:
        """The JSON API's shape."""
        return {
            "hour": self.hour.to_json(),
            "today": self.today.to_json(),
            "week": self.week.to_json(),
        }


def _window(amount: Any, unknown: Any) -> Window:
    return Window(float(amount or 0.0), int(unknown or 0))


def burn_rates(
    conn: Connection,
    since_hour: datetime,
    since_day: datetime,
    since_week: datetime,
    network_id: int | None = None,
) -> dict[int, BurnRate]:
    """The burn rate of every network (or one) that completed a step this week, by id."""

    def amount(since: datetime) -> Any:
        return func.sum(case((_T.c.cost_at >= since, _T.c.cost), else_=0.0))

    def unknown(since: datetime) -> Any:
        return func.sum(case(((_T.c.cost_at >= since) & _T.c.cost.is_(None), 1), else_=0))

    query = (
        select(
            _T.c.network_id,
            amount(since_hour),
            unknown(since_hour),
            amount(since_day),
            unknown(since_day),
            func.sum(_T.c.cost),
            func.count() - func.count(_T.c.cost),
        )
        .where(_T.c.cost_at >= min(since_week, since_day))
        .group_by(_T.c.network_id)
    )
    if network_id is not None:
        query = query.where(_T.c.network_id == network_id)
    rows = conn.execute(query)
    return {
        row[0]: BurnRate(_window(row[1], row[2]), _window(row[3], row[4]), _window(row[5], row[6]))
        for row in rows
    }


def network_spend(conn: Connection, network_id: int, since: datetime) -> float:
    """USD one network spent since ``since``."""
    value = conn.execute(
        select(func.sum(_T.c.cost)).where(_T.c.network_id == network_id, _T.c.cost_at >= since)
    ).scalar()
    return float(value or 0.0)


def total_spend(conn: Connection, since: datetime) -> float:
    """USD every network together spent since ``since``."""
    value = conn.execute(select(func.sum(_T.c.cost)).where(_T.c.cost_at >= since)).scalar()
    return float(value or 0.0)


def run_spend(conn: Connection, network_id: int, run_number: int) -> Window:
    """What one run has spent so far."""
    row = conn.execute(
        select(func.sum(_T.c.cost), func.count(_T.c.cost_at) - func.count(_T.c.cost)).where(
            _T.c.network_id == network_id, _T.c.run_number == run_number
        )
    ).one()
    return _window(row[0], row[1])


@dataclass(frozen=True, slots=True)
class CapSpend:
    """The sums a cap check needs (``None`` where that cap is not set)."""

    network_day: float | None
    run: float | None
    global_day: float | None


def cap_spend(
    conn: Connection,
    network_id: int,
    run_number: int | None,
    since_day: datetime,
    *,
    network_day: bool,
    run: bool,
    global_day: bool,
) -> CapSpend:
    """The spend of the network today, of the run and of every network today, as asked."""
    return CapSpend(
        network_spend(conn, network_id, since_day) if network_day else None,
        run_spend(conn, network_id, run_number).amount if run and run_number is not None else None,
        total_spend(conn, since_day) if global_day else None,
    )
