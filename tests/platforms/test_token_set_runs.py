"""A network's runs use the token set chosen for it, a shared one included, and only while
its owner may use that set."""

from __future__ import annotations

import trio

from panic_trio.domain import User
from panic_trio.panic import Panic
from tests.fakes import openai
from tests.fakes.openai import FakeOpenAI, completion
from tests.platforms.test_engine_runs import GUARD, media_host, owner, run_steps, settings

__all__ = ["media_host", "owner", "settings"]  # fixtures

GALLERY_TOKEN = "sk-gallery-set-0123456789"


async def test_a_chosen_set_pays_for_the_runs_not_the_first_set(
    panic: Panic, owner: User, openai_fake: FakeOpenAI
) -> None:
    openai_fake.replies.extend(completion(f"verse {n}", number=n) for n in range(1, 20))
    openai_fake.token = GALLERY_TOKEN  # the owner's first set (openai.TOKEN) would be refused
    net = await panic.create_network(owner.id, "gpt", models=["gpt-5-chat"])
    gallery = await panic.token_sets.create(owner.id, "Gallery")
    await panic.token_sets.set_token(owner.id, gallery, "openai", GALLERY_TOKEN)
    await panic.token_sets.choose(net.id, gallery)
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "a lighthouse", steps=2)
    assert [r.output for r in rows] == ["verse 1", "verse 2"]
    sent = openai_fake.received("POST", "/chat/completions")
    assert {r.headers["authorization"] for r in sent} == {f"Bearer {GALLERY_TOKEN}"}
    await panic.token_sets.choose(net.id, None)  # back to the first set
    openai_fake.token = openai.TOKEN
    with trio.fail_after(GUARD):
        await run_steps(panic, net.id, "a harbour", steps=1)


async def test_a_shared_set_runs_a_members_network_until_the_share_ends(
    panic: Panic, owner: User, openai_fake: FakeOpenAI
) -> None:
    openai_fake.replies.extend(completion(f"verse {n}", number=n) for n in range(1, 20))
    openai_fake.token = GALLERY_TOKEN
    member = await panic.create_user("member@example.org", "correct horse battery")
    gallery = await panic.token_sets.create(owner.id, "Gallery")
    await panic.token_sets.set_token(owner.id, gallery, "openai", GALLERY_TOKEN)
    await panic.token_sets.share(owner.id, gallery, "MEMBER@example.org")
    net = await panic.create_network(member.id, "theirs", models=["gpt-5-chat"])
    await panic.token_sets.choose(net.id, gallery)
    with trio.fail_after(GUARD):
        await run_steps(panic, net.id, "a lighthouse", steps=1)
    assert await panic.token_sets.unshare(owner.id, gallery, member.id) == 1
    assert await panic.token_sets.chosen(member.id) == {net.id: None}
    with trio.fail_after(GUARD):
        async with panic.watch(net.id) as events:
            await panic.start_run(net.id, "after the share")
            async for event in events:
                if event.status.state == "failed":
                    break
    assert "no OpenAI token" in (event.status.error or "")
