"""Token checks before a visitor finds out: warnings for missing tokens, and a
cheap authenticated call that tests a token against each (fake) provider."""

from __future__ import annotations

import dataclasses

import pytest
import trio

from panic_trio import Panic, Settings, open_panic
from panic_trio.errors import MissingToken, PlatformRejected
from tests.fakes import gemini, openai, replicate
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate

GUARD = 10


@pytest.fixture
async def settings(
    settings: Settings,
    openai_fake: FakeOpenAI,
    replicate_fake: FakeReplicate,
    gemini_fake: FakeGemini,
) -> Settings:
    return dataclasses.replace(
        settings,
        openai_base_url=openai_fake.url,
        replicate_base_url=replicate_fake.url,
        gemini_base_url=gemini_fake.url,
    )


@pytest.mark.parametrize(
    ("name", "good", "path"),
    [
        ("openai", openai.TOKEN, "/models"),
        ("replicate", replicate.TOKEN, "/account"),
        ("gemini", gemini.KEY, "/models"),
    ],
)
async def test_a_token_is_tested_with_one_cheap_authenticated_call(
    settings: Settings,
    openai_fake: FakeOpenAI,
    replicate_fake: FakeReplicate,
    gemini_fake: FakeGemini,
    name: str,
    good: str,
    path: str,
) -> None:
    fake = {"openai": openai_fake, "replicate": replicate_fake, "gemini": gemini_fake}[name]
    with trio.fail_after(GUARD):
        async with open_panic(settings) as panic:
            user = await panic.create_user("t@example.org", "correct horse battery")
            with pytest.raises(MissingToken):
                await panic.check_platform_token(user.id, name)
            await panic.set_platform_token(user.id, name, good)
            await panic.check_platform_token(user.id, name)
            await panic.set_platform_token(user.id, name, "a-fake-looking-token")
            with pytest.raises(PlatformRejected) as refused:
                await panic.check_platform_token(user.id, name)
    assert refused.value.status in (400, 401)
    assert [r.method + " " + r.path for r in fake.requests] == [f"GET {path}"] * 2
    assert fake.requests[0].method == "GET"


async def test_validation_warns_about_models_whose_platform_has_no_token(panic: Panic) -> None:
    user = await panic.create_user("w@example.org", "correct horse battery")
    models = ["dummy-t2a", "gemini-audio-description"]
    with trio.fail_after(GUARD):
        [warning] = await panic.token_warnings(user.id, models)
        assert warning.startswith("Gemini Audio Description (Flash) needs a Gemini token")
        assert await panic.token_warnings(user.id, ["dummy-t2i", "dummy-i2t"]) == []
        await panic.set_platform_token(user.id, "gemini", gemini.KEY)
        assert await panic.token_warnings(user.id, models) == []
