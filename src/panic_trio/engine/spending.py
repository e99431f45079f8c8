"""One runner's money: what each call cost, and whether the next may start.

The cost comes from the price table and the usage the platform reported; the
cap check sums what the database has recorded (so it counts the same after a
restart, and across processes sharing the database) and adds what the next
call is expected to cost (see :mod:`panic_trio.engine.caps`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from panic_trio.domain import Network
from panic_trio.engine import caps
from panic_trio.errors import SpendingCapReached
from panic_trio.models.prices import PriceTable
from panic_trio.settings import Settings
from panic_trio.store import spend
from panic_trio.store.store import Store


class RunSpending:
    """Costs and caps for one network's runs."""

    def __init__(
        self, store: Store, settings: Settings, prices: PriceTable, now: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._settings = settings
        self._prices = prices
        self._now = now
        self._zone = settings.cap_zone
        self.limits = caps.Limits(global_day=settings.global_daily_cap)
        self._last: dict[str, Decimal] = {}

    def use(self, network: Network) -> None:
        """Take the network's caps (at a start, and whenever it is edited)."""
        self.limits = caps.Limits(
            network.daily_cap, network.run_cap, self._settings.global_daily_cap
        )

    def cost(self, model: str, metadata: Mapping[str, Any]) -> tuple[dict[str, Any], float | None]:
        """``metadata`` with ``cost`` added, and the amount for the ``cost`` column."""
        usage = metadata.get("usage")
        cost = self._prices.cost(model, usage if isinstance(usage, Mapping) else None)
        if cost.amount is not None:
            self._last[model] = cost.amount
        kept = {k: v for k, v in metadata.items() if k != "usage"}  # it lives in cost.usage
        return {**kept, "cost": cost.to_json()}, cost.amount_usd

    def expected(self, model: str) -> float | None:
        """The next call's expected cost: its fixed price, else its last cost, else unknown."""
        fixed = self._prices.expected(model)
        if fixed is None:
            fixed = self._last.get(model)
        return None if fixed is None else float(fixed)

    async def breach(
        self, network_id: int, run_number: int | None, model: str
    ) -> caps.CapBreach | None:
        """The cap a call of ``model`` would go past now, or ``None`` (no query if no caps)."""
        limits = self.limits
        if not limits.any:
            return None
        now = self._now()
        sums = await self._store.read(
            spend.cap_spend,
            network_id,
            run_number,
            caps.day_start(now, self._zone),
            network_day=limits.network_day is not None,
            run=limits.run is not None,
            global_day=limits.global_day is not None,
        )
        return caps.breach(
            limits,
            network_day=sums.network_day,
            run=sums.run,
            global_day=sums.global_day,
            expected=self.expected(model),
            now=now,
            zone=self._zone,
        )

    async def check_start(self, network: Network) -> None:
        """Refuse a new run while a day cap stands (a per-run cap starts afresh).

        Raises:
            SpendingCapReached: with the time prompts are accepted again.
        """
        self.use(network)
        found = await self.breach(network.id, None, network.models[0])
        if found is not None and found.scope != "network-run":
            raise SpendingCapReached(
                found.plain, scope=found.scope, limit=found.limit, resumes_at=found.resumes_at
            )
