"""Lockout, backoff, stop and replace at exact virtual times (MockClock, inline I/O)."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from panic_trio import Panic, Settings, open_panic
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Network
from panic_trio.errors import LockedOut, ResourceExhausted, is_resource_exhaustion
from panic_trio.platforms.base import Call
from panic_trio.platforms.dummy import DummyPlatform
from tests.engine.scripted import ScriptedPlatform


@pytest.fixture
def scripted(tmp_path: Path) -> ScriptedPlatform:
    dummy = DummyPlatform(
        media_dir=tmp_path / "media",
        base_url="http://panic.test",
        seam=ThreadSeam("dummy-media", 1, inline=True),
    )
    return ScriptedPlatform(inner=dummy)


@pytest.fixture
def timing_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'timing.db'}",
        data_dir=tmp_path / "data",
        secret_key="test secret key, long enough",
    )


@pytest.fixture
async def clocked(
    autojump_clock: trio.testing.MockClock,
    timing_settings: Settings,
    scripted: ScriptedPlatform,
) -> AsyncIterator[Panic]:
    async with open_panic(timing_settings, platforms={"dummy": scripted}, inline=True) as panic:
        yield panic


@pytest.fixture
async def text_loop(clocked: Panic) -> Network:
    user = await clocked.create_user("timing@example.org", "correct horse battery")
    return await clocked.create_network(user.id, "text", models=["dummy-t2t"], lockout_seconds=30)


async def test_second_prompt_inside_lockout_is_refused_with_exact_retry_after(
    clocked: Panic, text_loop: Network, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    first = await clocked.start_run(text_loop.id, "first")
    await trio.sleep(29.9)
    with pytest.raises(LockedOut) as refused:
        await clocked.start_run(text_loop.id, "too soon")
    assert refused.value.genesis.id == first.id
    assert refused.value.retry_after == pytest.approx(0.1, abs=1e-9)
    await trio.sleep(0.1)
    assert trio.current_time() - start == pytest.approx(30.0)
    second = await clocked.start_run(text_loop.id, "now allowed")
    assert second.id != first.id
    assert second.run_number == second.id


async def test_invocation_gaps_follow_the_backoff_tiers_exactly(
    clocked: Panic,
    text_loop: Network,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    started = trio.current_time()
    await clocked.start_run(text_loop.id, "a long run")
    await trio.sleep(4800.5)
    genesis_at = scripted.calls[0].started_at
    assert genesis_at == started
    await clocked.stop_run(text_loop.id)
    ages = [round(r.started_at - genesis_at, 6) for r in scripted.calls]
    expected = [float(s) for s in range(0, 601)]  # 1 s gaps while younger than 10 min
    expected += [float(s) for s in range(615, 3601, 15)]  # 15 s gaps until 1 h
    expected += [4200.0, 4800.0]  # then 10 min
    assert ages == expected


async def test_stop_aborts_the_in_flight_call_and_nothing_runs_afterwards(
    clocked: Panic,
    text_loop: Network,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    scripted.delay = 60.0
    genesis = await clocked.start_run(text_loop.id, "slow")
    await trio.sleep(1)
    assert clocked.status(text_loop.id).state == "invoking"
    before = trio.current_time()
    assert await clocked.stop_run(text_loop.id) is True
    assert trio.current_time() == before  # returned without waiting for the call
    [row] = await clocked.list_run(text_loop.id, genesis.run_number)
    assert row.state == "failed"
    assert row.metadata["cancelled"] is True
    assert clocked.status(text_loop.id).state == "idle"
    await trio.sleep(3600)
    assert len(scripted.calls) == 1
    assert not scripted.calls[0].finished
    assert await clocked.stop_run(text_loop.id) is False


async def test_stop_while_waiting_fails_the_prepared_row(
    clocked: Panic,
    text_loop: Network,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    genesis = await clocked.start_run(text_loop.id, "wait for it")
    await trio.sleep(0.5)  # genesis done, next prepared, 1 s backoff pending
    status = clocked.status(text_loop.id)
    assert status.state == "waiting"
    assert status.next_invocation_at is not None
    assert await clocked.stop_run(text_loop.id)
    rows = await clocked.list_run(text_loop.id, genesis.run_number)
    assert [(r.sequence_number, r.state) for r in rows] == [(0, "completed"), (1, "failed")]
    assert rows[1].metadata == {"cancelled": True, "error": "cancelled: stopped"}
    await trio.sleep(100)
    assert len(scripted.calls) == 1


async def test_replacing_after_lockout_cancels_the_old_run_completely(
    clocked: Panic,
    text_loop: Network,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    scripted.delay = 45.0
    old = await clocked.start_run(text_loop.id, "old")
    await trio.sleep(30)
    new = await clocked.start_run(text_loop.id, "new")
    old_rows = await clocked.list_run(text_loop.id, old.run_number)
    assert [(r.sequence_number, r.state, r.metadata.get("cancelled")) for r in old_rows] == [
        (0, "failed", True)
    ]
    assert old_rows[0].metadata["error"] == "cancelled: replaced by a new run"
    await trio.sleep(500)
    assert await clocked.list_run(text_loop.id, old.run_number) == old_rows
    later_inputs = [r.call.input for r in scripted.calls[1:]]
    assert later_inputs[0] == "new"
    assert "old" not in later_inputs
    assert all(r.call.invocation_id != old.id for r in scripted.calls[1:])
    assert clocked.status(text_loop.id).genesis == new


async def test_status_reports_lockout_and_next_invocation(
    clocked: Panic, text_loop: Network, autojump_clock: trio.testing.MockClock
) -> None:
    genesis = await clocked.start_run(text_loop.id, "status")
    status = clocked.status(text_loop.id)
    assert status.genesis == genesis
    assert status.lockout_until is not None
    lockout = (status.lockout_until - genesis.inserted_at).total_seconds()
    assert lockout == pytest.approx(30, abs=0.5)
    await trio.sleep(0.5)
    waiting = clocked.status(text_loop.id)
    assert waiting.state == "waiting"
    assert waiting.current is not None
    assert waiting.current.sequence_number == 1
    assert waiting.current.state == "ready"


async def test_out_of_files_pauses_the_run_and_tries_the_same_step_again(
    clocked: Panic,
    text_loop: Network,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The probe: a socket flood used up the open-file limit and the run failed
    # for good ("Could not write dummy media: [Errno 24] Too many open files").
    # Here the first seven tries of the genesis hit EMFILE, the way the dummy
    # platform reports it: the run waits 1, 2, 5, 10, 30, 30, 30 s and goes on.
    def out_of_files(call: Call) -> BaseException | None:
        if len(scripted.calls) > 7:
            return None
        cause = OSError(errno.EMFILE, "Too many open files")
        error = ResourceExhausted(f"Could not write dummy media: {cause}", platform="dummy")
        error.__cause__ = cause
        return error

    scripted.script = out_of_files
    started = trio.current_time()
    genesis = await clocked.start_run(text_loop.id, "a flood outside")
    await trio.sleep(0.5)
    assert clocked.status(text_loop.id).state == "waiting"
    await trio.sleep(109.5 - 0.5)
    tries = [round(r.started_at - started, 6) for r in scripted.calls[:9]]
    assert tries == [0.0, 1.0, 3.0, 8.0, 18.0, 48.0, 78.0, 108.0, 109.0]
    [first, *_] = await clocked.list_run(text_loop.id, genesis.run_number)
    assert first.state == "completed"
    assert clocked.status(text_loop.id).state != "failed"
    await clocked.stop_run(text_loop.id)


def test_the_dummy_platforms_resource_errors_are_resource_exhaustion() -> None:
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = OSError(errno.EMFILE, "Too many open files")
    assert is_resource_exhaustion(wrapped)
    assert is_resource_exhaustion(OSError(errno.ENFILE, "file table full"))
    assert not is_resource_exhaustion(OSError(errno.ENOENT, "gone"))
