"""The same checks against the real hosted services (costs money; opt-in).

Run with ``PT_LIVE_TESTS=1`` and the keys ``OPENAI_API_KEY``,
``REPLICATE_API_TOKEN`` and ``GOOGLE_AI_STUDIO_TOKEN`` set; each platform's
tests are skipped, with the reason, when its key is missing. The environment
is read at import time because the suite's autouse fixture clears ``PANIC_*``.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from panic_trio.errors import ContentFiltered, PlatformRejected
from panic_trio.models import all_models
from panic_trio.platforms.gemini import GeminiPlatform
from panic_trio.platforms.openai import OpenAIPlatform
from panic_trio.platforms.policy import invoke_with_policy
from panic_trio.platforms.replicate import ReplicatePlatform
from panic_trio.settings import Settings
from tests.platforms.conftest import make_call

LIVE = os.environ.get("PT_LIVE_TESTS") == "1"
OPENAI_KEY = os.environ.get("OPENAI_API_KEY", "")
REPLICATE_KEY = os.environ.get("REPLICATE_API_TOKEN", "")
GEMINI_KEY = os.environ.get("GOOGLE_AI_STUDIO_TOKEN", "")
TEST_IMAGE = "https://fly.storage.tigris.dev/panic-invocation-outputs/nsfw-placeholder.webp"
TEST_AUDIO = "https://fly.storage.tigris.dev/panic-invocation-outputs/test-audio.ogg"
LIVE_GUARD_SECONDS = 240

pytestmark = pytest.mark.apikeys


def _needs(variable: str, key: str) -> pytest.MarkDecorator:
    """Skip unless live tests are on and ``variable`` holds a key, saying which is missing."""
    if not LIVE:
        reason = "live API tests run only when PT_LIVE_TESTS=1"
    else:
        reason = f"{variable} is not set"
    return pytest.mark.skipif(not (LIVE and key), reason=reason)


needs_openai = _needs("OPENAI_API_KEY", OPENAI_KEY)
needs_replicate = _needs("REPLICATE_API_TOKEN", REPLICATE_KEY)
needs_gemini = _needs("GOOGLE_AI_STUDIO_TOKEN", GEMINI_KEY)

SETTINGS = Settings(invoke_timeout=180.0)


@pytest.fixture
async def live_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
        yield client


@needs_openai
async def test_openai_follows_instructions(live_client: httpx.AsyncClient) -> None:
    openai = OpenAIPlatform(live_client, SETTINGS)
    text = "Reply with exactly one word, in lower case, and nothing else: bananaphone"
    with trio.fail_after(LIVE_GUARD_SECONDS):
        result = await openai.invoke(make_call("gpt-5-chat", text, OPENAI_KEY))
    assert "bananaphone" in result.output.lower()
    assert result.metadata["attempts"] >= 1


@needs_openai
async def test_openai_rejects_a_bad_key(live_client: httpx.AsyncClient) -> None:
    openai = OpenAIPlatform(live_client, SETTINGS)
    with trio.fail_after(LIVE_GUARD_SECONDS), pytest.raises(PlatformRejected) as info:
        await openai.invoke(make_call("gpt-5-chat", "hello", "sk-not-a-real-key"))
    assert info.value.status == 401


@needs_replicate
async def test_replicate_has_a_version_for_every_current_model(
    live_client: httpx.AsyncClient,
) -> None:
    paths = {
        m.path
        for m in all_models(include_deprecated=False)
        if m.platform == "replicate" and m.id != "image-reproducer-ii-flux"
    }
    headers = {"Authorization": f"Bearer {REPLICATE_KEY}"}
    with trio.fail_after(LIVE_GUARD_SECONDS):
        for path in sorted(paths):
            response = await live_client.get(
                f"{SETTINGS.replicate_base_url}/models/{path}", headers=headers
            )
            assert response.status_code == 200, path
            latest = response.json().get("latest_version")
            if latest is not None:  # official models run by name and have none
                assert re.fullmatch(r"[a-f0-9]{64}", latest["id"]), path


@pytest.mark.parametrize(
    ("model", "text"), [("flux-2-klein-4b", "a wombat in a garden"), ("moondream2", TEST_IMAGE)]
)
@needs_replicate
async def test_replicate_invokes_models(
    live_client: httpx.AsyncClient, model: str, text: str
) -> None:
    replicate = ReplicatePlatform(live_client, SETTINGS)
    with trio.fail_after(LIVE_GUARD_SECONDS):
        try:
            result = await invoke_with_policy(replicate, make_call(model, text, REPLICATE_KEY))
        except ContentFiltered:
            pytest.skip("the provider filtered the test input")
    assert result.output
    assert result.metadata["prediction_id"]


@needs_replicate
async def test_replicate_cancels_a_stopped_prediction() -> None:
    cancelled: list[str] = []

    async def note(request: httpx.Request) -> None:
        if request.url.path.endswith("/cancel"):
            cancelled.append(request.url.path.split("/")[-2])

    async with httpx.AsyncClient(timeout=60.0, event_hooks={"request": [note]}) as client:
        replicate = ReplicatePlatform(client, SETTINGS)
        call = make_call("lyria-2", "a slow ambient drone", REPLICATE_KEY)
        with trio.fail_after(LIVE_GUARD_SECONDS):
            with trio.move_on_after(4):
                await replicate.invoke(call)
            if not cancelled:
                pytest.skip("the prediction finished before it could be stopped")
            response = await client.get(
                f"{SETTINGS.replicate_base_url}/predictions/{cancelled[0]}",
                headers={"Authorization": f"Bearer {REPLICATE_KEY}"},
            )
    assert response.json()["status"] in ("canceled", "succeeded")


@needs_replicate
async def test_replicate_rejects_a_bad_token(live_client: httpx.AsyncClient) -> None:
    replicate = ReplicatePlatform(live_client, SETTINGS)
    with trio.fail_after(LIVE_GUARD_SECONDS), pytest.raises(PlatformRejected) as info:
        await replicate.invoke(make_call("lyria-2", "hello", "r8_not_a_real_token"))
    assert info.value.status == 401


@pytest.mark.parametrize("model", ["gemini-audio-description", "gemini-audio-description-pro"])
@needs_gemini
async def test_gemini_describes_audio(live_client: httpx.AsyncClient, model: str) -> None:
    gemini = GeminiPlatform(live_client, SETTINGS)
    with trio.fail_after(LIVE_GUARD_SECONDS):
        result = await gemini.invoke(make_call(model, TEST_AUDIO, GEMINI_KEY))
    assert len(result.output) > 10


@needs_gemini
async def test_gemini_rejects_a_bad_key(live_client: httpx.AsyncClient) -> None:
    gemini = GeminiPlatform(live_client, SETTINGS)
    with trio.fail_after(LIVE_GUARD_SECONDS), pytest.raises(PlatformRejected) as info:
        await gemini.invoke(make_call("gemini-audio-description", TEST_AUDIO, "not-a-key"))
    assert info.value.status in (400, 401, 403)
