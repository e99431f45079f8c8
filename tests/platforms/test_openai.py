"""OpenAI chat completions against the fake server."""

from __future__ import annotations

import httpx
import pytest
import trio

from panic_trio.errors import ContentFiltered, MissingToken, PlatformRejected, PlatformUnavailable
from panic_trio.platforms.base import Result
from panic_trio.platforms.openai import SYSTEM_PROMPT, OpenAIPlatform
from tests.fakes.openai import TOKEN, FakeOpenAI, completion
from tests.platforms.conftest import FAST_RETRY, GUARD_SECONDS, make_call, platform_settings


def platform(fake: FakeOpenAI, client: httpx.AsyncClient) -> OpenAIPlatform:
    return OpenAIPlatform(client, platform_settings(openai_base_url=fake.url), retry=FAST_RETRY)


async def invoke(openai: OpenAIPlatform, text: str = "hello", token: str | None = TOKEN) -> Result:
    with trio.fail_after(GUARD_SECONDS):
        return await openai.invoke(make_call("gpt-5-chat", text, token))


async def test_a_completion_sends_the_originals_request(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.reply = "  A bright red balloon drifts upward.\n"
    result = await invoke(platform(openai_fake, http_client), "a red balloon")

    assert result.output == "A bright red balloon drifts upward."
    assert result.metadata["attempts"] == 1
    assert isinstance(result.metadata["latency_ms"], int)
    [sent] = openai_fake.received("POST", "/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json() == {
        "model": "gpt-5-chat-latest",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "a red balloon"},
        ],
        "temperature": 1.0,
        "max_completion_tokens": 150,
    }


@pytest.mark.parametrize("content", ["", "   \n", None])
async def test_a_blank_reply_is_an_error_not_an_empty_output(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient, content: str | None
) -> None:
    openai_fake.replies.append(completion(content, finish_reason="length"))
    with pytest.raises(
        PlatformRejected, match=r"empty reply for gpt-5-chat \(finish reason: length\)"
    ):
        await invoke(platform(openai_fake, http_client))


async def test_a_refusal_is_content_filtered(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.replies.append(completion(None, refusal="I can't help with that."))
    with pytest.raises(ContentFiltered, match="I can't help with that"):
        await invoke(platform(openai_fake, http_client))


async def test_a_content_filter_finish_is_content_filtered(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.replies.append(completion("partial", finish_reason="content_filter"))
    with pytest.raises(ContentFiltered, match="content filter"):
        await invoke(platform(openai_fake, http_client))


async def test_a_content_policy_error_is_content_filtered(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.fail(
        "POST",
        "/chat/completions",
        status=400,
        json_body={
            "error": {
                "message": "Your request was rejected as a result of our safety system.",
                "type": "invalid_request_error",
                "code": "content_policy_violation",
            }
        },
    )
    with pytest.raises(ContentFiltered, match="safety system"):
        await invoke(platform(openai_fake, http_client))
    assert len(openai_fake.requests) == 1


async def test_a_bad_key_is_rejected_once_with_openais_words(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(PlatformRejected) as info:
        await invoke(platform(openai_fake, http_client), token="sk-wrong")
    assert info.value.status == 401
    assert info.value.message.startswith(
        "OpenAI rejected the request (401): Incorrect API key provided"
    )
    assert len(openai_fake.requests) == 1


async def test_a_500_is_retried(openai_fake: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    openai_fake.fail(
        "POST", "/chat/completions", status=500, json_body={"error": {"message": "oops"}}
    )
    result = await invoke(platform(openai_fake, http_client))
    assert result.output == "A creative continuation."
    assert result.metadata["attempts"] == 2


async def test_429_waits_for_retry_after(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.fail(
        "POST",
        "/chat/completions",
        status=429,
        json_body={"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
        headers={"Retry-After": "0.3"},
    )
    started = trio.current_time()
    result = await invoke(platform(openai_fake, http_client))
    assert trio.current_time() - started >= 0.3
    assert result.metadata["attempts"] == 2


async def test_persistent_overload_becomes_unavailable(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.fail(
        "POST",
        "/chat/completions",
        status=503,
        body="upstream overloaded",
        times=10,
        content_type="text/plain",
    )
    with pytest.raises(
        PlatformUnavailable, match=r"OpenAI is unavailable \(503\): upstream overloaded"
    ):
        await invoke(platform(openai_fake, http_client))
    assert len(openai_fake.requests) == 4


async def test_malformed_json_is_rejected(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.fail("POST", "/chat/completions", status=200, body='{"choices": [')
    with pytest.raises(PlatformRejected, match="OpenAI sent a malformed response"):
        await invoke(platform(openai_fake, http_client))


@pytest.mark.parametrize(
    "reply",
    [
        {"object": "chat.completion"},
        {"choices": []},
        {"choices": ["text"]},
        {"choices": [{"finish_reason": "stop"}]},
        {"choices": [{"message": {"content": ["a", "b"]}}]},
    ],
)
async def test_unexpected_shapes_are_rejected(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient, reply: dict[str, object]
) -> None:
    openai_fake.replies.append(reply)
    with pytest.raises(PlatformRejected, match="unexpected output from gpt-5-chat"):
        await invoke(platform(openai_fake, http_client))


async def test_a_legacy_text_choice_is_accepted(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    openai_fake.replies.append({"choices": [{"text": "old style", "finish_reason": "stop"}]})
    assert (await invoke(platform(openai_fake, http_client))).output == "old style"


async def test_a_missing_token_makes_no_request(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(MissingToken, match="no OpenAI API token"):
        await invoke(platform(openai_fake, http_client), token=None)
    assert openai_fake.requests == []
