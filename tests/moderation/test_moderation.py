"""The blocklist through the embedding API: checked before a run starts, cached per process."""

from __future__ import annotations

import pytest
import trio.testing

from panic_trio.domain import Network
from panic_trio.errors import PromptBlocked
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
