"""Spending sums on SQLite and PostgreSQL: windows, unknown costs, per network and in total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from panic_trio.store import spend
from panic_trio.store.store import Store, open_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def step(store: Store, network_id: int, cost: float | None, at: datetime) -> None:
    store.now = lambda: at
    genesis = await store.create_genesis(network_id, "dummy-t2t", "p")
    await store.complete_and_prepare_next(genesis.id, "out", {}, cost=cost)


async def test_burn_rates_per_network_over_each_window(database_url: str) -> None:
    async with open_store(database_url) as store:
        user = await store.create_user("s@example.org", "hash", False)
        a = await store.create_network(user.id, "a", "", ["dummy-t2t"], 30)
        b = await store.create_network(user.id, "b", "", ["dummy-t2t"], 30)
        await step(store, a.id, 0.5, NOW - timedelta(days=8))  # outside every window
        await step(store, a.id, 0.25, NOW - timedelta(days=3))
        await step(store, a.id, 0.125, NOW - timedelta(hours=5))
        await step(store, a.id, None, NOW - timedelta(minutes=30))
        await step(store, a.id, 0.0625, NOW - timedelta(minutes=10))
        await step(store, b.id, 1.0, NOW - timedelta(minutes=1))
        day = NOW.replace(hour=0)
        rates = await store.read(
            spend.burn_rates, NOW - timedelta(hours=1), day, NOW - timedelta(days=7)
        )
        assert rates[a.id].to_json() == {
            "hour": {"amount": 0.0625, "unknown": 1},
            "today": {"amount": 0.1875, "unknown": 1},
            "week": {"amount": 0.4375, "unknown": 1},
        }
        assert rates[b.id].hour.amount == 1.0
        assert await store.read(spend.network_spend, a.id, day) == 0.1875
        assert await store.read(spend.total_spend, day) == 1.1875
        genesis_rows = await store.recent_invocations(100, a.id)
        run = max(r.run_number for r in genesis_rows)
        assert await store.read(spend.run_spend, a.id, run) == spend.Window(0.0625, 0)
