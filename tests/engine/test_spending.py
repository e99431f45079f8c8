"""Spending caps at exact virtual times: a run stops before the call that would pass a cap.

A dummy model priced at $0.02 a call (by a PANIC_PRICES file) and a cap of
$0.05: exactly two calls, then the run ends with the cap's reason; the next
day (in the cap time zone) prompts work again; a global cap stops every
network; a restart keeps what was spent. The wall clock follows Trio's
MockClock, so days pass in virtual time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from panic_trio import Panic, Settings, open_panic
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Invocation
from panic_trio.errors import SpendingCapReached
from panic_trio.platforms.dummy import DummyPlatform
from tests.engine.scripted import ScriptedPlatform

START = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
STEP = 10.0  # seconds between steps (backoff inf:10)


@pytest.fixture
def scripted(tmp_path: Path) -> ScriptedPlatform:
    dummy = DummyPlatform(
        media_dir=tmp_path / "media",
        base_url="http://panic.test",
        seam=ThreadSeam("dummy-media", 1, inline=True),
    )
    return ScriptedPlatform(inner=dummy)


@pytest.fixture
def cap_settings(tmp_path: Path) -> Settings:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models."dummy-t2t"]\nper_call = 0.02\nread_on = 2026-12-01\nsource = "test"\n'
    )
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'caps.db'}",
        data_dir=tmp_path / "data",
        secret_key="test secret key, long enough",
        backoff=f"inf:{STEP}",
        prices=prices,
    )


@pytest.fixture
async def wall(autojump_clock: trio.testing.MockClock) -> Callable[[], datetime]:
    """Wall time = START + Trio time, so a day is 86,400 virtual seconds."""
    origin = trio.current_time()
    return lambda: START + timedelta(seconds=trio.current_time() - origin)


def opened(
    settings: Settings, scripted: ScriptedPlatform, wall: Callable[[], datetime]
) -> AbstractAsyncContextManager[Panic]:
    return open_panic(settings, platforms={"dummy": scripted}, inline=True, now=wall)


async def sleep_until_wall(wall: Callable[[], datetime], moment: datetime) -> None:
    await trio.sleep((moment - wall()).total_seconds())


async def until_failed(panic: Panic, network_id: int) -> float:
    """Wait for the network's run to end; returns the Trio time it did."""
    async with panic.watch(network_id) as events:
        if panic.status(network_id).state == "failed":
            return trio.current_time()
        async for event in events:
            if event.status.state == "failed":
                return trio.current_time()
    raise AssertionError("the event stream ended")


async def run_rows(panic: Panic, genesis: Invocation) -> list[Invocation]:
    return await panic.list_run(genesis.network_id, genesis.run_number)


async def test_a_cap_of_5_cents_with_a_2_cent_model_runs_exactly_two_steps_until_midnight(
    cap_settings: Settings,
    scripted: ScriptedPlatform,
    wall: Callable[[], datetime],
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with opened(cap_settings, scripted, wall) as panic:
        user = await panic.create_user("cap@example.org", "correct horse battery")
        net = await panic.create_network(
            user.id, "capped", models=["dummy-t2t"], lockout_seconds=0, daily_cap=0.05
        )
        genesis = await panic.start_run(net.id, "a penny")
        started = trio.current_time()
        ended = await until_failed(panic, net.id)
        rows = await run_rows(panic, genesis)
        assert [r.state for r in rows] == ["completed", "completed", "failed"]
        assert len(scripted.calls) == 2
        assert [r.metadata["cost"]["amount"] for r in rows[:2]] == [0.02, 0.02]
        last = rows[-1]
        assert last.metadata["error"] == "daily spending cap of $0.05 reached"
        assert last.metadata["cap"]["scope"] == "network-day"
        assert last.metadata["cap"]["limit"] == 0.05
        assert last.metadata["cap"]["currency"] == "USD"
        assert last.metadata["cap"]["resumes_at"] == "2026-12-02T00:00:00.000000+00:00"
        assert panic.status(net.id).error == "daily spending cap of $0.05 reached"
        # The cap check ran before the third call, at exactly two backoffs in.
        assert ended - started == 2 * STEP

        await sleep_until_wall(wall, datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC))
        with pytest.raises(SpendingCapReached) as refused:
            await panic.start_run(net.id, "one second too early")
        assert refused.value.scope == "network-day"
        assert refused.value.resumes_at == datetime(2026, 12, 2, tzinfo=UTC)
        assert "accepts prompts again at 00:00" in refused.value.message

        await trio.sleep(1)  # midnight UTC: a new day
        second = await panic.start_run(net.id, "a new day")
        await until_failed(panic, net.id)
        rows = await run_rows(panic, second)
        assert [r.state for r in rows] == ["completed", "completed", "failed"]
        assert len(scripted.calls) == 4


async def test_the_day_follows_the_configured_time_zone(
    cap_settings: Settings,
    scripted: ScriptedPlatform,
    wall: Callable[[], datetime],
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = dataclasses.replace(cap_settings, cap_timezone="Europe/Berlin")
    async with opened(settings, scripted, wall) as panic:
        user = await panic.create_user("berlin@example.org", "correct horse battery")
        net = await panic.create_network(
            user.id, "berlin", models=["dummy-t2t"], lockout_seconds=0, daily_cap=0.02
        )
        await panic.start_run(net.id, "one step")
        await until_failed(panic, net.id)
        midnight_berlin = datetime(2026, 12, 1, 23, tzinfo=UTC)
        await sleep_until_wall(wall, midnight_berlin - timedelta(seconds=1))
        with pytest.raises(SpendingCapReached) as refused:
            await panic.start_run(net.id, "too early")
        assert refused.value.resumes_at == midnight_berlin
        await trio.sleep(1)
        await panic.start_run(net.id, "a new day in Berlin")
        await until_failed(panic, net.id)
        assert len(scripted.calls) == 2


async def test_the_global_daily_cap_stops_every_network(
    cap_settings: Settings,
    scripted: ScriptedPlatform,
    wall: Callable[[], datetime],
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = dataclasses.replace(cap_settings, global_daily_cap=0.05)
    async with opened(settings, scripted, wall) as panic:
        user = await panic.create_user("global@example.org", "correct horse battery")
        a = await panic.create_network(user.id, "a", models=["dummy-t2t"], lockout_seconds=0)
        b = await panic.create_network(user.id, "b", models=["dummy-t2t"], lockout_seconds=0)
        first = await panic.start_run(a.id, "a")
        await trio.sleep(STEP / 2)  # steps at 0, 10, 20… for a and 5, 15… for b
        second = await panic.start_run(b.id, "b")
        await until_failed(panic, a.id)
        await until_failed(panic, b.id)
        assert len(scripted.calls) == 2  # $0.04; a third call would make $0.06
        for genesis in (first, second):
            rows = await run_rows(panic, genesis)
            assert rows[-1].metadata["error"] == "global daily spending cap of $0.05 reached"
            assert rows[-1].metadata["cap"]["scope"] == "global-day"
        c = await panic.create_network(user.id, "c", models=["dummy-t2t"])
        with pytest.raises(SpendingCapReached) as refused:
            await panic.start_run(c.id, "a third network")
        assert refused.value.scope == "global-day"
        assert "The installation has spent today's budget of $0.05" in refused.value.message


async def test_a_restart_keeps_what_was_spent(
    cap_settings: Settings,
    scripted: ScriptedPlatform,
    wall: Callable[[], datetime],
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with opened(cap_settings, scripted, wall) as panic:
        user = await panic.create_user("restart@example.org", "correct horse battery")
        net = await panic.create_network(
            user.id, "restart", models=["dummy-t2t"], lockout_seconds=0, daily_cap=0.05
        )
        genesis = await panic.start_run(net.id, "before")
        await trio.sleep(STEP / 2)
        assert len(scripted.calls) == 1
    async with opened(cap_settings, scripted, wall) as panic:
        await until_failed(panic, net.id)
        rows = await run_rows(panic, genesis)
        assert [r.state for r in rows] == ["completed", "completed", "failed"]
        assert rows[-1].metadata["cap"]["scope"] == "network-day"
        assert len(scripted.calls) == 2


async def test_a_per_run_cap_ends_the_run_and_a_new_prompt_starts_afresh(
    cap_settings: Settings,
    scripted: ScriptedPlatform,
    wall: Callable[[], datetime],
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with opened(cap_settings, scripted, wall) as panic:
        user = await panic.create_user("run@example.org", "correct horse battery")
        net = await panic.create_network(
            user.id, "per run", models=["dummy-t2t"], lockout_seconds=0, run_cap=0.04
        )
        first = await panic.start_run(net.id, "first")
        await until_failed(panic, net.id)
        rows = await run_rows(panic, first)
        assert rows[-1].metadata["error"] == "per-run spending cap of $0.04 reached"
        assert rows[-1].metadata["cap"]["resumes_at"] is None
        await panic.start_run(net.id, "second")
        await until_failed(panic, net.id)
        assert len(scripted.calls) == 4


async def test_a_cap_lowered_mid_run_applies_before_the_next_call(
    cap_settings: Settings,
    scripted: ScriptedPlatform,
    wall: Callable[[], datetime],
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with opened(cap_settings, scripted, wall) as panic:
        user = await panic.create_user("edit@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "edit", models=["dummy-t2t"], lockout_seconds=0)
        await panic.start_run(net.id, "uncapped")
        await trio.sleep(3 * STEP + STEP / 2)
        assert len(scripted.calls) == 4
        await panic.update_network(net.id, daily_cap=0.08)
        await until_failed(panic, net.id)
        assert len(scripted.calls) == 4
        assert panic.status(net.id).error == "daily spending cap of $0.08 reached"
