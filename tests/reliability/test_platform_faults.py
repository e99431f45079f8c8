"""Platform faults during real runs: each fails only its own run, readably, and clears.

OpenAI (the fake, behind a proxy that can reset connections) misbehaves in
one way per test while a dummy network runs alongside. For each fault:
the runner stays alive, the failed invocation says why in words, no row is
left ``invoking``, the other network never notices, and once the fault
clears the same network runs again at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import trio

from panic_trio import Panic, Settings
from panic_trio.domain import User
from tests.fakes import openai
from tests.fakes.openai import FakeOpenAI, completion
from tests.reliability.conftest import GUARD, ResetProxy, assert_settled
from tests.runs import completed_at_least, failed, start_and_wait

# fault name -> what the failed invocation's metadata.error must say
FAULTS = {
    "http_500_storm": "OpenAI is unavailable (500): upstream exploded",
    "http_429_storm": "OpenAI rate-limited the request (429): slow down",
    "hang_past_timeout": "GPT-5 Chat did not answer within 1 s",
    "malformed_json": "OpenAI sent a malformed response (200): {not json",
    "connection_reset": "could not reach OpenAI",
    "nsfw_refusal": "OpenAI refused the content",
}


@pytest.fixture
async def openai_fake(nursery: trio.Nursery) -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start(nursery)
    yield fake
    fake.stop()


@pytest.fixture
async def proxy(nursery: trio.Nursery, openai_fake: FakeOpenAI) -> ResetProxy:
    reset_proxy = ResetProxy(int(openai_fake.url.rsplit(":", 1)[1]))
    await reset_proxy.start(nursery)
    return reset_proxy


@pytest.fixture
def settings(settings: Settings, proxy: ResetProxy) -> Settings:
    """OpenAI behind the resetting proxy, one retry, a 1 s invoke budget."""
    return dataclasses.replace(
        settings,
        openai_base_url=proxy.url,
        platform_retries=1,
        invoke_timeout=1.0,
        backoff="inf:0.02",
        dummy_delay=0.01,
    )


@pytest.fixture
async def owner(panic: Panic, owner: User) -> User:
    await panic.set_platform_token(owner.id, "openai", openai.TOKEN)
    return owner


def inject(fault: str, fake: FakeOpenAI, proxy: ResetProxy) -> None:
    path = "/chat/completions"
    if fault == "http_500_storm":
        fake.fail("POST", path, status=500, json_body={"error": {"message": "upstream exploded"}},
                  times=1000)  # fmt: skip
    elif fault == "http_429_storm":
        fake.fail("POST", path, status=429, json_body={"error": {"message": "slow down"}},
                  headers={"Retry-After": "0"}, times=1000)  # fmt: skip
    elif fault == "hang_past_timeout":
        fake.fail("POST", path, status=None, delay=60, times=1000)
    elif fault == "malformed_json":
        fake.fail("POST", path, status=200, body="{not json", times=1000)
    elif fault == "connection_reset":
        proxy.resetting = True
    elif fault == "nsfw_refusal":
        refusal = completion(None, refusal="I can't help with that request.")
        fake.replies.extend([refusal] * 2)  # the prompt, then the safe prompt
    else:
        raise AssertionError(fault)


def clear(fake: FakeOpenAI, proxy: ResetProxy) -> None:
    fake.faults.clear()
    fake.replies.clear()
    proxy.resetting = False


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_platform_fault_fails_only_its_run_readably_and_clears(
    panic: Panic, owner: User, openai_fake: FakeOpenAI, proxy: ResetProxy, fault: str
) -> None:
    with trio.fail_after(GUARD):
        bystander = await panic.create_network(owner.id, "bystander", models=["dummy-t2t"])
        victim = await panic.create_network(
            owner.id, "victim", models=["gpt-5-chat"], lockout_seconds=300
        )
        async with panic.watch(bystander.id) as bystander_events:
            calm = await panic.start_run(bystander.id, "keep calm")
            inject(fault, openai_fake, proxy)
            genesis, event = await start_and_wait(panic, victim.id, "carry on", failed)

            # The failure is recorded in words, on the row and in the status.
            [row] = await panic.list_run(victim.id, genesis.run_number)
            assert row.state == "failed"
            reason = row.metadata["error"]
            assert reason.startswith(FAULTS[fault]) or FAULTS[fault] in reason, reason
            assert event.status.error == reason
            assert "Traceback" not in reason
            assert "\n" not in reason
            assert openai.TOKEN not in reason
            assert len(reason) < 600
            # The runner is alive and idle-failed; nothing of this network is live.
            assert panic.status(victim.id).state == "failed"
            assert not [r for r in await panic.store.active_rows() if r.network_id == victim.id]

            # The other network never noticed: it keeps completing steps.
            before = panic.status(bystander.id).current
            assert before is not None
            async for seen in bystander_events:
                inv = seen.invocation
                assert seen.status.state != "failed", seen.status.error
                if (
                    inv
                    and inv.state == "completed"
                    and inv.sequence_number > before.sequence_number
                ):
                    break

            # The fault clears: a new prompt is accepted at once and runs.
            clear(openai_fake, proxy)
            again, event = await start_and_wait(
                panic, victim.id, "once more", completed_at_least(1)
            )
            assert not failed(event), event.status.error
            assert again.run_number != genesis.run_number

        assert await panic.stop_run(victim.id)
        assert await panic.stop_run(bystander.id)
        for network_id, run_number in (
            (victim.id, genesis.run_number),
            (victim.id, again.run_number),
            (bystander.id, calm.run_number),
        ):
            rows = await panic.list_run(network_id, run_number)
            assert_settled(rows)
            assert all(r.state == "completed" for r in rows[:-1])
        assert await panic.store.active_rows() == []
    if fault == "connection_reset":
        assert proxy.resets >= 2  # the first attempt and the retry
