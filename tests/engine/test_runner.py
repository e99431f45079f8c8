"""Runner behaviour with real threads and a real SQLite file."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest
import trio
from sqlalchemy import Connection, update

from panic_trio import Panic, Settings, open_panic
from panic_trio.domain import Event, Invocation, Network, User
from panic_trio.errors import InvalidNetwork, InvalidPrompt, LockedOut, NotFound, ShuttingDown
from panic_trio.models import get_model
from panic_trio.platforms.base import Call
from panic_trio.store.schema import invocations, networks
from panic_trio.store.store import open_store
from tests.engine.scripted import ScriptedPlatform, fail_with

GUARD = 10


async def wait_for(panic: Panic, network_id: int, done: Callable[[Event], bool]) -> Event:
    """The first event of the network that satisfies ``done``."""
    async with panic.watch(network_id) as events:
        async for event in events:
            if done(event):
                return event
    raise AssertionError("event stream ended")


def finished(seq: int) -> Callable[[Event], bool]:
    return lambda e: (
        e.kind == "invocation"
        and e.invocation is not None
        and e.invocation.sequence_number >= seq
        and e.invocation.state in ("completed", "failed")
    )


@pytest.fixture
async def flaky(settings: Settings) -> tuple[Settings, ScriptedPlatform]:
    from panic_trio.blocking import ThreadSeam
    from panic_trio.platforms.dummy import DummyPlatform

    dummy = DummyPlatform(
        media_dir=settings.data_dir / "dummy",
        base_url=settings.base_url,
        seam=ThreadSeam("dummy-media", 2),
    )
    return settings, ScriptedPlatform(inner=dummy)


async def test_a_run_chains_models_with_contiguous_sequence_numbers(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(GUARD):
        async with panic.watch(loop_network.id) as events:
            genesis = await panic.start_run(loop_network.id, "a red balloon")
            async for event in events:
                if finished(4)(event):
                    break
        await panic.stop_run(loop_network.id)
    assert genesis.run_number == genesis.id
    assert genesis.sequence_number == 0
    rows = await panic.list_run(loop_network.id, genesis.run_number)
    assert [r.sequence_number for r in rows] == list(range(len(rows)))
    for row in rows:
        assert row.model == loop_network.models[row.sequence_number % 2]
        assert row.run_number == genesis.id
    completed = [r for r in rows if r.state == "completed"]
    assert len(completed) >= 5
    for before, after in itertools.pairwise(rows):
        # The next input is the output as it was when it ran: provider URL or archive URL.
        assert after.input in (before.output, before.metadata.get("archived_from"))
    assert rows[0].input == "a red balloon"
    image_url = rows[0].metadata.get("archived_from", rows[0].output)
    assert isinstance(image_url, str)
    assert image_url.startswith(panic.settings.base_url + "/dummy/")
    image_hash = image_url.rsplit("/", 1)[1].removesuffix(".png")
    assert rows[1].output == f"DUMMY_CAPTION: Image with hash {image_hash}"
    assert rows[-1].state == "failed"
    assert rows[-1].metadata["cancelled"] is True


async def test_bad_prompts_are_refused_and_nothing_is_created(
    panic: Panic, loop_network: Network
) -> None:
    for prompt in ["", "   \n\t", "x" * 2001, "nul\x00byte"]:
        with pytest.raises(InvalidPrompt):
            await panic.start_run(loop_network.id, prompt)
    assert await panic.recent_invocations() == []
    assert panic.status(loop_network.id).state == "idle"
    long_ok = await panic.start_run(loop_network.id, "y" * 2000)
    assert long_ok.input == "y" * 2000


async def test_unknown_network_is_not_found(panic: Panic) -> None:
    with pytest.raises(NotFound):
        await panic.start_run(999, "hello")
    assert await panic.stop_run(999) is False
    assert 999 not in panic.engine.statuses()  # no runner for a network that does not exist


async def test_an_idle_runner_reads_the_network_with_the_genesis(
    panic: Panic, loop_network: Network
) -> None:
    """A start on an idle runner reads the network in the genesis's own write:
    an edit just before applies, a cycle gone bad is refused and nothing is written."""
    with trio.fail_after(GUARD):
        first = await panic.start_run(loop_network.id, "one")
        await panic.stop_run(loop_network.id)
        await panic.update_network(loop_network.id, models=["dummy-t2t"], lockout_seconds=7)
        second = await panic.start_run(loop_network.id, "two")
        await panic.stop_run(loop_network.id)
        await panic.store.write(_set_models, loop_network.id, ["no-such-model"])
        with pytest.raises(InvalidNetwork):
            await panic.start_run(loop_network.id, "three")
        latest = await panic.recent_invocations(1)
    assert first.model == "dummy-t2i"
    assert (second.model, second.metadata["cycle"]) == ("dummy-t2t", ["dummy-t2t"])
    assert second.run_number == second.id
    assert latest[0].run_number == second.run_number  # the refused prompt wrote nothing
    assert panic.status(loop_network.id).state == "idle"


def _set_models(conn: Connection, network_id: int, models: list[str]) -> None:
    conn.execute(update(networks).where(networks.c.id == network_id).values(models=models))


async def test_a_model_error_fails_the_run_and_a_new_prompt_is_accepted_at_once(
    flaky: tuple[Settings, ScriptedPlatform], tmp_path: Path
) -> None:
    settings, scripted = flaky
    scripted.script = fail_with("the model fell over")
    async with open_panic(settings, platforms={"dummy": scripted}) as panic:
        user = await panic.create_user("x@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "n", models=["dummy-t2t"], lockout_seconds=300)
        with trio.fail_after(GUARD):
            async with panic.watch(net.id) as events:
                genesis = await panic.start_run(net.id, "first")
                async for event in events:
                    if event.status.state == "failed":
                        break
        assert event.status.error == "the model fell over"
        [row] = await panic.list_run(net.id, genesis.run_number)
        assert row.state == "failed"
        assert row.metadata == {
            "cycle": ["dummy-t2t"],
            "error": "the model fell over",
            "error_kind": "provider",
        }
        scripted.script = lambda call: None
        second = await panic.start_run(net.id, "second")  # no lockout after a failure
        assert second.id != genesis.id


async def test_an_unexpected_crash_in_one_network_leaves_another_running(
    flaky: tuple[Settings, ScriptedPlatform],
) -> None:
    settings, scripted = flaky

    def explode_on_bomb(call: Call) -> BaseException | None:
        return RuntimeError("kaboom") if "bomb" in call.input else None

    scripted.script = explode_on_bomb
    async with open_panic(settings, platforms={"dummy": scripted}) as panic:
        user = await panic.create_user("x@example.org", "correct horse battery")
        calm = await panic.create_network(user.id, "calm", models=["dummy-t2t"])
        doomed = await panic.create_network(user.id, "doomed", models=["dummy-t2t"])
        with trio.fail_after(GUARD):
            await panic.start_run(calm.id, "steady")
            genesis = await panic.start_run(doomed.id, "bomb")
            await wait_for(panic, doomed.id, lambda e: e.status.state == "failed")
            assert panic.status(calm.id).active
            before = len(scripted.calls)
            await wait_for(panic, calm.id, finished(3))
            assert len(scripted.calls) > before
        status = panic.status(doomed.id)
        assert status.error == "internal error: kaboom"
        [row] = await panic.list_run(doomed.id, genesis.run_number)
        assert row.state == "failed"
        assert row.metadata["error"] == "internal error: kaboom"
        await panic.start_run(doomed.id, "calm now")  # the runner is alive
        assert panic.status(calm.id).active


async def test_empty_model_output_fails_instead_of_completing(
    flaky: tuple[Settings, ScriptedPlatform],
) -> None:
    settings, scripted = flaky
    scripted.output = lambda call: "  \n"
    async with open_panic(settings, platforms={"dummy": scripted}) as panic:
        user = await panic.create_user("x@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "n", models=["dummy-t2t"])
        with trio.fail_after(GUARD):
            genesis = await panic.start_run(net.id, "speak")
            await wait_for(panic, net.id, lambda e: e.status.state == "failed")
        [row] = await panic.list_run(net.id, genesis.run_number)
        assert row.metadata["error"] == "Dummy Text-to-Text returned an empty output"


async def test_a_call_that_outlasts_the_invoke_timeout_fails_with_a_clear_reason(
    flaky: tuple[Settings, ScriptedPlatform],
) -> None:
    settings, scripted = flaky
    scripted.delay = 30
    import dataclasses

    quick = dataclasses.replace(settings, invoke_timeout=0.2)
    async with open_panic(quick, platforms={"dummy": scripted}) as panic:
        user = await panic.create_user("x@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "n", models=["dummy-t2t"])
        with trio.fail_after(GUARD):
            genesis = await panic.start_run(net.id, "slow")
            await wait_for(panic, net.id, lambda e: e.status.state == "failed")
        [row] = await panic.list_run(net.id, genesis.run_number)
        assert row.metadata["error"] == "Dummy Text-to-Text did not answer within 0.2 s"


async def test_real_platform_models_use_the_network_owners_token(
    flaky: tuple[Settings, ScriptedPlatform],
) -> None:
    settings, scripted = flaky
    fake_openai = ScriptedPlatform(
        inner=scripted,
        name="openai",
        display_name="OpenAI",
        requires_token=True,
        output=lambda call: f"echo {call.input}",
    )
    async with open_panic(settings, platforms={"openai": fake_openai}) as panic:
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        net = await panic.create_network(owner.id, "gpt", models=["gpt-5-chat"])
        with trio.fail_after(GUARD):
            first = await panic.start_run(net.id, "hello")
            await wait_for(panic, net.id, lambda e: e.status.state == "failed")
        [row] = await panic.list_run(net.id, first.run_number)
        assert row.metadata["error"] == "no OpenAI token configured for this network's owner"
        assert fake_openai.calls == []
        await panic.set_platform_token(owner.id, "openai", "sk-test-123")
        with trio.fail_after(GUARD):
            async with panic.watch(net.id) as events:
                await panic.start_run(net.id, "hello again")
                async for event in events:
                    if finished(0)(event):
                        break
        assert event.invocation is not None
        assert event.invocation.output == "echo hello again"
        assert fake_openai.calls[0].call.token == "sk-test-123"


FOUR: Final = ("dummy-t2i", "dummy-i2t", "dummy-t2a", "dummy-a2t")


def assert_types_chain(rows: list[Invocation]) -> None:
    """Each step's model takes the kind of media the step before produced."""
    for before, after in itertools.pairwise(rows):
        made = get_model(before.model).output_type
        assert get_model(after.model).input_type == made, (before, after)


async def test_a_run_keeps_its_cycle_when_the_network_is_edited_mid_run(
    panic: Panic, owner: User
) -> None:
    net = await panic.create_network(owner.id, "edit", models=list(FOUR))
    with trio.fail_after(GUARD):
        genesis = await panic.start_run(net.id, "change me")
        await wait_for(panic, net.id, finished(1))
        await panic.update_network(net.id, models=["dummy-t2i", "dummy-i2t"])
        await wait_for(panic, net.id, finished(9))
        await panic.stop_run(net.id)
        rows = await panic.list_run(net.id, genesis.run_number)
        assert genesis.metadata["cycle"] == list(FOUR)
        assert [r.model for r in rows] == [FOUR[r.sequence_number % 4] for r in rows]
        assert_types_chain(rows)
        # the edit applies to the next run
        second = await panic.start_run(net.id, "the new cycle")
        await wait_for(panic, net.id, finished(3))
        await panic.stop_run(net.id)
    rows = await panic.list_run(net.id, second.run_number)
    assert [r.model for r in rows] == [
        ("dummy-t2i", "dummy-i2t")[r.sequence_number % 2] for r in rows
    ]


async def test_a_resumed_run_follows_its_own_cycle(settings: Settings) -> None:
    slow = dataclasses.replace(settings, dummy_delay=30)
    async with open_panic(slow) as panic:
        user = await panic.create_user("r@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "r", models=list(FOUR))
        genesis = await panic.start_run(net.id, "remember me")
        await panic.update_network(net.id, models=["dummy-t2t"])
    async with open_panic(settings) as panic:
        with trio.fail_after(GUARD):
            await wait_for(panic, net.id, finished(6))
            await panic.stop_run(net.id)
        rows = await panic.list_run(net.id, genesis.run_number)
    assert len(rows) >= 7
    assert [r.model for r in rows] == [FOUR[r.sequence_number % 4] for r in rows]
    assert_types_chain(rows)


async def test_a_run_without_a_kept_cycle_follows_the_network(settings: Settings) -> None:
    """Runs started before cycles were kept resume on the network's models."""
    slow = dataclasses.replace(settings, dummy_delay=30)
    async with open_panic(slow) as panic:
        user = await panic.create_user("o@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "o", models=["dummy-t2t"])
        genesis = await panic.start_run(net.id, "old")
    async with open_store(settings.database_url) as store:
        await store.write(_forget_cycle, genesis.id)
    async with open_panic(settings) as panic:
        with trio.fail_after(GUARD):
            await wait_for(panic, net.id, finished(2))
            await panic.stop_run(net.id)
        rows = await panic.list_run(net.id, genesis.run_number)
    assert "cycle" not in rows[0].metadata
    assert {r.model for r in rows} == {"dummy-t2t"}


def _forget_cycle(conn: Connection, invocation_id: int) -> None:
    conn.execute(update(invocations).where(invocations.c.id == invocation_id).values(metadata={}))


async def test_replace_stops_and_starts_inside_the_lockout(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(GUARD):
        first = await panic.start_run(loop_network.id, "first")
        second = await panic.start_run(loop_network.id, "second", replace=True)
        rows = await panic.list_run(loop_network.id, first.run_number)
    assert rows[-1].state == "failed"
    assert rows[-1].metadata["error"] == "cancelled: replaced by a new run"
    assert panic.status(loop_network.id).genesis == second


async def test_status_keeps_the_last_run_after_a_stop(panic: Panic, loop_network: Network) -> None:
    with trio.fail_after(GUARD):
        genesis = await panic.start_run(loop_network.id, "remember the number")
        assert await panic.stop_run(loop_network.id)
    status = panic.status(loop_network.id)
    assert status.state == "idle"
    assert status.genesis is not None
    assert status.genesis.run_number == genesis.run_number
    assert status.lockout_until is None


async def test_lockout_refusal_reports_the_active_genesis(
    panic: Panic, loop_network: Network
) -> None:
    genesis = await panic.start_run(loop_network.id, "first")
    with pytest.raises(LockedOut) as refused:
        await panic.start_run(loop_network.id, "second")
    assert refused.value.genesis == genesis
    assert 29 < refused.value.retry_after <= 30


async def test_concurrent_prompts_start_exactly_one_run(
    panic: Panic, loop_network: Network
) -> None:
    started: list[Invocation] = []
    refused: list[LockedOut] = []

    async def submit(n: int) -> None:
        try:
            started.append(await panic.start_run(loop_network.id, f"prompt {n}"))
        except LockedOut as exc:
            refused.append(exc)

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            for n in range(50):
                nursery.start_soon(submit, n)
    assert len(started) == 1
    assert len(refused) == 49
    assert {r.genesis.id for r in refused} == {started[0].id}


async def test_no_run_starts_once_the_engine_is_shutting_down(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(GUARD):
        genesis = await panic.start_run(loop_network.id, "before")
        await panic.engine.shut_down()
        with pytest.raises(ShuttingDown):
            await panic.start_run(loop_network.id, "too late")
        rows = await panic.list_run(loop_network.id, genesis.run_number)
    assert rows[-1].state == "ready"  # released for resume, not failed
    assert await panic.store.recent_invocations(1, loop_network.id) == [rows[-1]]


async def test_deleting_a_network_ends_its_runners_request_loop(
    panic: Panic, loop_network: Network
) -> None:
    """No task stays parked in the engine's nursery for a network that is gone."""
    nursery = panic.engine._nursery  # its children are the runners' request loops
    with trio.fail_after(GUARD):
        await panic.start_run(loop_network.id, "a red balloon")
        assert len(nursery.child_tasks) == 1
        await panic.delete_network(loop_network.id)
        while nursery.child_tasks:
            await trio.sleep(0.01)
    assert panic.engine.status(loop_network.id).state == "idle"
