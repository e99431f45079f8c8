"""The blocklist through the embedding API: checked before a run starts, cached per process."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio.testing

from panic_trio.domain import IDLE, Event, Network
from panic_trio.errors import PromptBlocked
from panic_trio.events import EventBus
from panic_trio.moderation import Moderation
from panic_trio.panic import Panic
from panic_trio.store import invocations as invocation_queries


async def test_a_blocked_prompt_starts_nothing_and_unblocking_applies_at_once(
    panic: Panic, loop_network: Network
) -> None:
    await panic.moderation.block(loop_network.id, "cat*")
    with pytest.raises(PromptBlocked) as refused:
        await panic.start_run(loop_network.id, "three CATS on a wall")
    assert refused.value.pattern == "cat*"
    assert "cat" not in refused.value.message.lower()
    latest = await panic.store.read(invocation_queries.latest_run_number, loop_network.id)
    assert latest is None
    [row] = await panic.moderation.patterns(loop_network.id)
    assert await panic.moderation.unblock(loop_network.id, row["id"])
    genesis = await panic.start_run(loop_network.id, "three CATS on a wall")
    assert genesis.input == "three CATS on a wall"
    await panic.stop_run(loop_network.id)


async def test_another_process_sees_a_new_pattern_within_five_seconds(
    mock_clock: trio.testing.MockClock, panic: Panic, loop_network: Network
) -> None:
    elsewhere = Moderation(panic.store, panic.events)  # another process's view
    await elsewhere.check(loop_network.id, "a dog")  # read and kept
    await panic.moderation.block(loop_network.id, "dog")
    await elsewhere.check(loop_network.id, "a dog")  # still the list it read
    mock_clock.jump(5.0)
    with pytest.raises(PromptBlocked):
        await elsewhere.check(loop_network.id, "a dog")


async def test_a_hide_reaches_another_process_through_its_events(
    panic: Panic, loop_network: Network
) -> None:
    """Another process learns a hide from the ``hidden`` event its backplane delivers:
    its statuses and screens stop showing the output and the input made from it."""
    genesis = await panic.start_run(loop_network.id, "a lighthouse")
    await panic.stop_run(loop_network.id)
    elsewhere_bus = EventBus()
    elsewhere = Moderation(panic.store, elsewhere_bus)  # another process's view
    hidden = await panic.moderation.hide(genesis.id)
    assert not elsewhere.concealed.hides(replace(genesis, metadata={}))
    elsewhere_bus.publish(loop_network.id, Event(kind="hidden", invocation=hidden, status=IDLE))
    assert elsewhere.concealed.hides(replace(genesis, metadata={}))
    shown = await panic.moderation.hide(genesis.id, hidden=False)
    elsewhere_bus.publish(loop_network.id, Event(kind="hidden", invocation=shown, status=IDLE))
    assert not elsewhere.concealed.hides(replace(genesis, metadata={}))
