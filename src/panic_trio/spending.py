"""Burn rates for people: what a network (and the whole server) spent, and its caps.

The control panel and the admin page show, per network and in total, the
current run so far, the last hour, today (since midnight in the cap time
zone) and the last 7 days, with the caps and, when one stopped a network,
until when. Everything is summed from the database (``store/spend.py``), so
it is the same after a restart and the same figures the caps use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from panic_trio.domain import Network, RunnerStatus, iso
from panic_trio.engine import caps
from panic_trio.models.prices import PriceTable
from panic_trio.settings import Settings
from panic_trio.store import spend
from panic_trio.store.store import Store


class SpendingReport:
    """Reads spend for the pages and the JSON API (no writes, no engine calls)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        prices: PriceTable,
        status: Callable[[int], RunnerStatus],
    ) -> None:
        self._store = store
        self._settings = settings
        self._prices = prices
        self._status = status

    def _windows(self) -> tuple[datetime, datetime, datetime, datetime]:
        now = self._store.now()
        day = caps.day_start(now, self._settings.cap_zone)
        return now, now - timedelta(hours=1), day, now - timedelta(days=7)

    async def network(self, network: Network) -> dict[str, Any]:
        """One network's burn rate, current run, caps and cap stop (JSON)."""
        now, hour, day, week = self._windows()
        rates = await self._store.read(spend.burn_rates, hour, day, week, network.id)
        status = self._status(network.id)
        run: dict[str, Any] | None = None
        if status.genesis is not None:
            run_number = status.genesis.run_number
            so_far = await self._store.read(spend.run_spend, network.id, run_number)
            run = {"run_number": run_number, **so_far.to_json()}
        rate = rates.get(network.id, spend.BurnRate())
        return {
            "network_id": network.id,
            "currency": "USD",
            "run": run,
            **rate.to_json(),
            "caps": {"daily": network.daily_cap, "run": network.run_cap},
            "capped": self._capped(network, status, rate, now),
        }

    async def overview(self, networks: Sequence[Network]) -> dict[str, Any]:
        """Every network's burn rate and the total, with the global cap (JSON)."""
        now, hour, day, week = self._windows()
        rates = await self._store.read(spend.burn_rates, hour, day, week)
        total = spend.BurnRate()
        for rate in rates.values():
            total = total + rate
        rows = []
        for network in networks:
            rate = rates.get(network.id, spend.BurnRate())
            rows.append(
                {
                    "network_id": network.id,
                    "name": network.name,
                    **rate.to_json(),
                    "caps": {"daily": network.daily_cap, "run": network.run_cap},
                    "capped": self._capped(network, self._status(network.id), rate, now),
                }
            )
        limit = self._settings.global_daily_cap
        global_capped = None
        if limit is not None and total.today.amount >= limit - caps.TOLERANCE_USD:
            global_capped = caps.day_breach(
                "global-day", limit, now, self._settings.cap_zone
            ).to_json()
        return {
            "currency": "USD",
            "time_zone": self._settings.cap_timezone,
            "day_started_at": iso(day),
            "networks": rows,
            "total": total.to_json(),
            "global_daily_cap": limit,
            "global_capped": global_capped,
        }

    def _capped(
        self, network: Network, status: RunnerStatus, rate: spend.BurnRate, now: datetime
    ) -> dict[str, Any] | None:
        """The cap that stopped the network or refuses its prompts, while it holds.

        Refusal is judged as a new prompt is: today's spend plus the first
        model's fixed price.
        """
        current = status.current
        if status.state == "failed" and current is not None and "cap" in current.metadata:
            cap = dict(current.metadata["cap"])
            resumes = cap.get("resumes_at")
            if resumes is None or datetime.fromisoformat(resumes) > now:
                return cap
        expected = self._prices.expected(network.models[0]) if network.models else None
        found = caps.breach(
            caps.Limits(network_day=network.daily_cap),
            network_day=rate.today.amount,
            run=None,
            global_day=None,
            expected=None if expected is None else float(expected),
            now=now,
            zone=self._settings.cap_zone,
        )
        return None if found is None else found.to_json()
