"""Gemini audio description against the fake server (which also hosts the audio)."""

from __future__ import annotations

import base64

import httpx
import pytest
import trio

from panic_trio.errors import ContentFiltered, MissingToken, PlatformRejected, PlatformUnavailable
from panic_trio.platforms.base import Result
from panic_trio.platforms.gemini import AUDIO_PROMPT, GeminiPlatform, audio_mime_type
from tests.fakes.gemini import AUDIO_BYTES, KEY, FakeGemini, reply
from tests.platforms.conftest import FAST_RETRY, GUARD_SECONDS, make_call, platform_settings


def platform(fake: FakeGemini, client: httpx.AsyncClient) -> GeminiPlatform:
    return GeminiPlatform(client, platform_settings(gemini_base_url=fake.url), retry=FAST_RETRY)


async def invoke(
    gemini: GeminiPlatform,
    url: str,
    *,
    model: str = "gemini-audio-description",
    token: str | None = KEY,
) -> Result:
    with trio.fail_after(GUARD_SECONDS):
        return await gemini.invoke(make_call(model, url, token))


async def test_audio_is_sent_inline_with_its_real_type(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    url = gemini_fake.audio_url("clip.mp3", "audio/mpeg")
    result = await invoke(
        platform(gemini_fake, http_client), url, model="gemini-audio-description-pro"
    )

    assert result.output == "A gentle piano melody over soft rain."
    assert result.metadata["attempts"] == 1
    [sent] = gemini_fake.received("POST", "/models/gemini-2.5-pro:generateContent")
    assert sent.query == {"key": KEY}
    assert "authorization" not in sent.headers
    assert sent.json() == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {
                        "inline_data": {
                            "mime_type": "audio/mp3",
                            "data": base64.b64encode(AUDIO_BYTES).decode(),
                        }
                    },
                    {"text": AUDIO_PROMPT},
                ],
            }
        ]
    }


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("a.wav", "audio/wav", "audio/wav"),
        ("a.bin", "audio/x-wav", "audio/wav"),
        ("a.mp3", "application/octet-stream", "audio/mp3"),
        ("a.ogg", "binary/octet-stream", "audio/ogg"),
        ("a.flac", None, "audio/flac"),
        ("a.WAV", "text/plain; charset=utf-8", "audio/wav"),
        ("a.x", "audio/ogg; codecs=opus", "audio/ogg"),
    ],
)
async def test_the_mime_type_comes_from_content_type_or_extension(
    gemini_fake: FakeGemini,
    http_client: httpx.AsyncClient,
    name: str,
    content_type: str | None,
    expected: str,
) -> None:
    url = gemini_fake.audio_url(name, content_type)
    await invoke(platform(gemini_fake, http_client), url)
    [sent] = gemini_fake.received("POST", "/models/*")
    assert sent.json()["contents"][0]["parts"][0]["inline_data"]["mime_type"] == expected


def test_audio_mime_type_ignores_query_strings() -> None:
    assert audio_mime_type("https://s3.test/a.mp3?X-Amz-Signature=abc", None) == "audio/mp3"
    assert audio_mime_type("https://s3.test/a", "application/octet-stream") is None


async def test_an_unknown_audio_format_is_rejected(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    url = gemini_fake.audio_url("mystery", "application/octet-stream")
    with pytest.raises(PlatformRejected, match="cannot tell the audio format"):
        await invoke(platform(gemini_fake, http_client), url)
    assert gemini_fake.received("POST", "/models/*") == []


async def test_every_part_of_the_first_candidate_is_joined(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    gemini_fake.response = reply("Slow strings, ", "then a ", "thunderous drum.")
    gemini_fake.response["candidates"].append(reply("ignored")["candidates"][0])
    url = gemini_fake.audio_url("a.wav")
    result = await invoke(platform(gemini_fake, http_client), url)
    assert result.output == "Slow strings, then a thunderous drum."


async def test_a_bad_key_is_rejected_once(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    url = gemini_fake.audio_url("a.wav")
    with pytest.raises(PlatformRejected) as info:
        await invoke(platform(gemini_fake, http_client), url, token="wrong")
    assert info.value.status == 400
    assert info.value.message == (
        "Gemini rejected the request (400): API key not valid. Please pass a valid API key."
    )
    assert "wrong" not in info.value.message
    assert len(gemini_fake.received("POST", "/models/*")) == 1


async def test_a_missing_audio_file_is_rejected(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(PlatformRejected, match=r"could not fetch the audio at .*/nope.wav \(404\)"):
        await invoke(platform(gemini_fake, http_client), f"{gemini_fake.url}/audio/nope.wav")


async def test_audio_host_errors_are_retried_then_unavailable(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    url = gemini_fake.audio_url("a.wav")
    gemini_fake.fail("GET", "/audio/*", status=503, body="busy", times=10)
    with pytest.raises(PlatformUnavailable, match="fetching the audio at"):
        await invoke(platform(gemini_fake, http_client), url)
    assert len(gemini_fake.received("GET", "/audio/*")) == 4


async def test_a_500_then_success_is_retried(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    url = gemini_fake.audio_url("a.wav")
    gemini_fake.fail("POST", "/models/*", status=500, json_body={"error": {"message": "internal"}})
    result = await invoke(platform(gemini_fake, http_client), url)
    assert result.metadata["attempts"] == 2


async def test_a_non_url_input_is_rejected(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(PlatformRejected, match="needs an audio URL"):
        await invoke(platform(gemini_fake, http_client), "a wombat holding a sign")


async def test_a_blocked_prompt_is_content_filtered(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    gemini_fake.response = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}
    url = gemini_fake.audio_url("a.wav")
    with pytest.raises(ContentFiltered, match="PROHIBITED_CONTENT"):
        await invoke(platform(gemini_fake, http_client), url)


async def test_a_safety_stop_without_text_is_content_filtered(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    gemini_fake.response = {"candidates": [{"finishReason": "SAFETY", "index": 0}]}
    url = gemini_fake.audio_url("a.wav")
    with pytest.raises(ContentFiltered, match="SAFETY"):
        await invoke(platform(gemini_fake, http_client), url)


@pytest.mark.parametrize(
    ("response", "match"),
    [
        ({"candidates": []}, "unexpected output from gemini-audio-description: no candidates"),
        ({"candidates": [{"content": {"parts": {"text": "x"}}}]}, "parts are not a list"),
        (reply("   "), "empty reply"),
        ({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}]}}]}, "empty"),
    ],
)
async def test_unexpected_replies_are_rejected(
    gemini_fake: FakeGemini,
    http_client: httpx.AsyncClient,
    response: dict[str, object],
    match: str,
) -> None:
    gemini_fake.response = dict(response)
    url = gemini_fake.audio_url("a.wav")
    with pytest.raises(PlatformRejected, match=match):
        await invoke(platform(gemini_fake, http_client), url)


async def test_malformed_json_is_rejected(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    url = gemini_fake.audio_url("a.wav")
    gemini_fake.fail("POST", "/models/*", status=200, body="<html>oops</html>")
    with pytest.raises(PlatformRejected, match="Gemini sent a malformed response"):
        await invoke(platform(gemini_fake, http_client), url)


async def test_a_missing_key_makes_no_request(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(MissingToken, match="no Gemini API token"):
        await invoke(platform(gemini_fake, http_client), gemini_fake.audio_url("a.wav"), token=None)
    assert gemini_fake.requests == []
