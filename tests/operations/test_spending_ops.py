"""A real capped run as the operations side sees it: spend counters equal the recorded
costs, and the cap is counted as an error of kind ``cap`` once."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from panic_trio import open_panic
from panic_trio.operations import Metrics
from panic_trio.store import spend
from tests.operations.conftest import ops_settings
from tests.operations.test_metrics import scrape, value


async def test_spend_counters_match_the_recorded_costs_of_a_capped_run(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models."dummy-t2t"]\nper_call = 0.02\nread_on = 2026-12-01\nsource = "test"\n'
    )
    settings = ops_settings(tmp_path, backoff="inf:10", prices=prices)
    async with open_panic(settings, inline=True) as panic, trio.open_nursery() as nursery:
        metrics = Metrics(panic)
        await nursery.start(metrics.run)
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        net = await panic.create_network(owner.id, "paid", models=["dummy-t2t"], daily_cap=0.05)
        await panic.start_run(net.id, "hello")
        while panic.status(net.id).state != "failed":
            await trio.sleep(1)
        await trio.testing.wait_all_tasks_blocked()
        samples = scrape(metrics)
        recorded = await panic.store.read(spend.total_spend, panic.store.now().replace(hour=0))
        nursery.cancel_scope.cancel()
    labels = {"network": str(net.id), "model": "dummy-t2t", "platform": "dummy"}
    assert value(samples, "panic_spend_usd_total", **labels) == recorded == 0.04
    assert value(samples, "panic_errors_total", kind="cap", platform="dummy") == 1
