"""The content-filter policy: one safe-prompt retry, for text-input models only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import trio

from panic_trio.errors import ContentFiltered, PlatformError, PlatformRejected
from panic_trio.platforms.base import Call, Platform, Result
from panic_trio.platforms.gemini import GeminiPlatform
from panic_trio.platforms.openai import OpenAIPlatform
from panic_trio.platforms.policy import WOMBAT_PROMPT, detect_nsfw, invoke_with_policy
from panic_trio.platforms.replicate import ReplicatePlatform
from tests.fakes.replicate import TOKEN, FakeReplicate, Script
from tests.platforms.conftest import (
    FAST_POLL,
    FAST_RETRY,
    GUARD_SECONDS,
    make_call,
    platform_settings,
)

Behaviour = Callable[[Call], Result]


class ScriptedPlatform:
    """A Platform whose answers are a list of callables, one per call."""

    name = "scripted"
    display_name = "Scripted"
    requires_token = False

    def __init__(self, *answers: Behaviour) -> None:
        self.answers = list(answers)
        self.calls: list[Call] = []

    async def invoke(self, call: Call) -> Result:
        await trio.lowlevel.checkpoint()
        self.calls.append(call)
        return self.answers.pop(0)(call)


def ok(output: str, **metadata: object) -> Behaviour:
    return lambda call: Result(output, {"latency_ms": 5, **metadata})


def refuse(message: str = "NSFW content detected") -> Behaviour:
    def answer(call: Call) -> Result:
        raise ContentFiltered(message, platform="scripted", model=call.model.id)

    return answer


def reject(call: Call) -> Result:
    raise PlatformRejected("Scripted rejected the request (401): no", status=401)


async def run(platform: Platform, model: str, text: str = "a risky prompt") -> Result:
    with trio.fail_after(GUARD_SECONDS):
        return await invoke_with_policy(platform, make_call(model, text, "token"))


async def test_every_client_satisfies_the_platform_protocol() -> None:
    settings = platform_settings()
    async with httpx.AsyncClient() as client:
        platforms: list[Platform] = [
            ScriptedPlatform(),
            OpenAIPlatform(client, settings),
            ReplicatePlatform(client, settings),
            GeminiPlatform(client, settings),
        ]
    assert [p.name for p in platforms] == ["scripted", "openai", "replicate", "gemini"]
    assert all(p.requires_token for p in platforms[1:])


async def test_a_success_passes_through_with_attempts() -> None:
    platform = ScriptedPlatform(ok("fine"))
    result = await run(platform, "stable-diffusion")
    assert result.output == "fine"
    assert result.metadata == {"latency_ms": 5, "attempts": 1}
    assert "content_filtered" not in result.metadata


async def test_platform_attempts_are_kept() -> None:
    result = await run(ScriptedPlatform(ok("fine", attempts=3)), "gpt-5-chat")
    assert result.metadata["attempts"] == 3


@pytest.mark.parametrize("model", ["stable-diffusion", "gpt-5-chat", "musicgen"])
async def test_a_text_input_model_retries_once_with_the_wombat(model: str) -> None:
    platform = ScriptedPlatform(refuse(), ok("a wombat picture", attempts=2, prediction_id="p2"))
    result = await run(platform, model)

    assert [c.input for c in platform.calls] == ["a risky prompt", WOMBAT_PROMPT]
    assert platform.calls[1].model == platform.calls[0].model
    assert result.output == "a wombat picture"
    assert result.metadata["content_filtered"] is True
    assert result.metadata["content_filter_reason"] == "NSFW content detected"
    assert result.metadata["attempts"] == 3
    assert result.metadata["prediction_id"] == "p2"
    assert isinstance(result.metadata["latency_ms"], int)


@pytest.mark.parametrize("model", ["moondream2", "whisper", "gemini-audio-description"])
async def test_other_models_re_raise_with_a_reason(model: str) -> None:
    platform = ScriptedPlatform(refuse("flagged as sensitive (E005)"))
    with pytest.raises(ContentFiltered, match="no safe text prompt can stand in") as info:
        await run(platform, model, "https://example.test/picture.png")
    assert info.value.message.startswith("flagged as sensitive (E005); ")
    assert len(platform.calls) == 1


async def test_a_refused_wombat_is_reported() -> None:
    platform = ScriptedPlatform(refuse(), refuse("NSFW again"))
    with pytest.raises(ContentFiltered, match=r"safe prompt was refused too \(NSFW again\)"):
        await run(platform, "stable-diffusion")
    assert len(platform.calls) == 2


async def test_other_errors_are_not_retried() -> None:
    platform = ScriptedPlatform(reject)
    with pytest.raises(PlatformRejected):
        await run(platform, "stable-diffusion")
    assert len(platform.calls) == 1


async def test_the_wombat_through_the_replicate_fake(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.by_prompt["naughty"] = Script(status="failed", error="NSFW content detected")
    replicate_fake.by_prompt[WOMBAT_PROMPT] = Script(output=["https://fake/wombat.png"])
    replicate = ReplicatePlatform(
        http_client,
        platform_settings(replicate_base_url=replicate_fake.url),
        retry=FAST_RETRY,
        poll=FAST_POLL,
    )
    with trio.fail_after(GUARD_SECONDS):
        result = await invoke_with_policy(
            replicate, make_call("stable-diffusion", "naughty", TOKEN)
        )

    assert result.output == "https://fake/wombat.png"
    assert result.metadata["content_filtered"] is True
    assert result.metadata["attempts"] == 2
    prompts = [r.json()["input"]["prompt"] for r in replicate_fake.received("POST", "/predictions")]
    assert prompts == ["naughty", WOMBAT_PROMPT]


async def test_an_image_model_refusal_through_the_replicate_fake(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(
        "lucataco/moondream2", status="failed", error="The input was flagged as sensitive (E005)"
    )
    replicate = ReplicatePlatform(
        http_client,
        platform_settings(replicate_base_url=replicate_fake.url),
        retry=FAST_RETRY,
        poll=FAST_POLL,
    )
    with (
        trio.fail_after(GUARD_SECONDS),
        pytest.raises(PlatformError, match="moondream2 takes image"),
    ):
        await invoke_with_policy(replicate, make_call("moondream2", "https://x/y.png", TOKEN))
    assert len(replicate_fake.received("POST", "/predictions")) == 1


# -- detect_nsfw (the original's own cases) ------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "NSFW content detected",
        "NSFWcontent",
        "The input or output was flagged as sensitive. "
        "Please try again with different inputs. (E005)",
        "Output contains nsfw material",
        "This prompt has Inappropriate Content",
        "explicit content not allowed",
        "ADULT CONTENT detected",
        "Sensitive content (E001)",
        "content is sensitive (E009)",
    ],
)
def test_detect_nsfw_matches_refusals(message: str) -> None:
    assert detect_nsfw(message)


@pytest.mark.parametrize(
    "message",
    [
        "Model not found",
        "Invalid input parameters",
        "Request timeout",
        "Authentication failed",
        "",
        "insensitive comment",
        "adult supervision required",
        "sensitive data without a code",
        "safe for work",
        None,
        123,
        {"error": "NSFW"},
        ["NSFW"],
    ],
)
def test_detect_nsfw_ignores_other_messages(message: object) -> None:
    assert not detect_nsfw(message)
