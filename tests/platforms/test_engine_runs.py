"""Whole-engine runs over real HTTP: ``open_panic`` with Settings pointing at the fakes.

Nothing of ours is replaced: the registry builds the real clients, the policy wraps
them, and tokens come from the owner's encrypted token set.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import mimetypes
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from quart import Response

from panic_trio import Panic, Settings
from panic_trio.domain import Invocation, User
from panic_trio.platforms.media import draw_image
from panic_trio.platforms.policy import WOMBAT_PROMPT
from tests.fakes import gemini, openai, replicate
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI, completion
from tests.fakes.replicate import FakeReplicate, Script
from tests.fakes.server import FakeService
from tests.runs import completed_at_least, failed, start_and_wait

GUARD = 10
SD_PATH = "stability-ai/stable-diffusion-3.5-large-turbo"
MOONDREAM_PATH = "lucataco/moondream2"
CLAUDE_PATH = "anthropic/claude-4-sonnet"
NSFW = "NSFW content detected. Try running it again, or try a different prompt."


class MediaHost(FakeService):
    """Serves ``<data_dir>/dummy`` and ``/archive`` at ``public_url``, as the web app would.

    Gemini's input is dummy-t2a's ``/dummy/<hash>.wav``, or the
    ``/archive/<key>.mp3`` the archiver may have rewritten it to first. Those
    are this server's own files: Gemini must read them from disk, so this host
    stands ready at the public URL only to prove it is never asked.
    """

    def __init__(self) -> None:
        super().__init__("media-host")
        self.root = Path()
        self.app.add_url_rule("/<folder>/<name>", view_func=self._file, methods=["GET"])

    async def _file(self, folder: str, name: str) -> Response:
        path = trio.Path(self.root, folder, name)
        if folder not in ("dummy", "archive") or not await path.is_file():
            return Response(b"not found", status=404, content_type="text/plain")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(await path.read_bytes(), content_type=kind)


@pytest.fixture
async def media_host(nursery: trio.Nursery) -> AsyncIterator[MediaHost]:
    host = MediaHost()
    await host.start(nursery)
    yield host
    host.stop()


@pytest.fixture
async def settings(
    settings: Settings,
    openai_fake: FakeOpenAI,
    replicate_fake: FakeReplicate,
    gemini_fake: FakeGemini,
    media_host: MediaHost,
) -> Settings:
    """The suite's settings (backoff inf:0) with every platform on its fake."""
    media_host.root = settings.data_dir
    return dataclasses.replace(
        settings,
        openai_base_url=openai_fake.url,
        replicate_base_url=replicate_fake.url,
        gemini_base_url=gemini_fake.url,
        public_url=media_host.url,
        platform_retries=1,
    )


@pytest.fixture
async def owner(panic: Panic, owner: User) -> User:
    """The network owner, with a token for every platform."""
    tokens = {"openai": openai.TOKEN, "replicate": replicate.TOKEN, "gemini": gemini.KEY}
    for name, value in tokens.items():
        await panic.set_platform_token(owner.id, name, value)
    return owner


def image_url(settings: Settings, stem: str = "sd_out") -> str:
    """A PNG in the dummy folder, standing in for a replicate.delivery URL (archivable offline)."""
    folder = settings.data_dir / "dummy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.png").write_bytes(draw_image(stem, "stable diffusion"))
    return f"{settings.base_url}/dummy/{stem}.png"


async def run_steps(panic: Panic, network_id: int, prompt: str, steps: int) -> list[Invocation]:
    """Run until ``steps`` invocations completed, stop, and return the run's rows."""
    genesis, event = await start_and_wait(panic, network_id, prompt, completed_at_least(steps - 1))
    assert event.status.state != "failed", event.status.error
    assert await panic.stop_run(network_id)
    rows = await panic.list_run(network_id, genesis.run_number)
    assert [r.state for r in rows[:steps]] == ["completed"] * steps
    assert rows[-1].state == "failed"
    assert rows[-1].metadata["cancelled"] is True
    return [r for r in rows if r.state == "completed"]


def assert_chained(rows: list[Invocation], prompt: str) -> None:
    """Each input is the previous output (or the provider URL it was archived from)."""
    assert rows[0].input == prompt
    for before, after in itertools.pairwise(rows):
        assert after.input in (before.output, before.metadata.get("archived_from"))


def assert_metered(row: Invocation, attempts: int = 1) -> None:
    latency = row.metadata["latency_ms"]
    assert isinstance(latency, int)
    assert latency >= 0
    assert row.metadata["attempts"] == attempts


async def test_openai_network_feeds_each_reply_back_with_the_owners_token(
    panic: Panic, owner: User, openai_fake: FakeOpenAI
) -> None:
    openai_fake.replies.extend(completion(f"verse {n}", number=n) for n in range(1, 20))
    net = await panic.create_network(owner.id, "gpt", models=["gpt-5-chat"])
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "a lighthouse", steps=4)
    assert [r.output for r in rows] == [f"verse {n}" for n in range(1, len(rows) + 1)]
    assert_chained(rows, "a lighthouse")
    sent = openai_fake.received("POST", "/chat/completions")
    assert len(sent) >= len(rows)
    for row, request in zip(rows, sent, strict=False):
        assert request.headers["authorization"] == f"Bearer {openai.TOKEN}"
        body = request.json()
        assert body["model"] == "gpt-5-chat-latest"
        assert body["messages"][-1] == {"role": "user", "content": row.input}
        assert_metered(row)
        assert "prediction_id" not in row.metadata


async def test_replicate_predictions_go_through_their_lifecycle(
    panic: Panic, owner: User, settings: Settings, replicate_fake: FakeReplicate
) -> None:
    image = image_url(settings)
    replicate_fake.script(SD_PATH, output=[image], polls=2)
    replicate_fake.script(MOONDREAM_PATH, output=["A red ", "kite"], polls=2)
    net = await panic.create_network(owner.id, "r", models=["stable-diffusion", "moondream2"])
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "a red kite", steps=3)
    assert_chained(rows, "a red kite")
    for row in rows:
        prediction = replicate_fake.predictions[row.metadata["prediction_id"]]
        # Created "starting"; the first poll saw "processing", the second "succeeded".
        assert (prediction.status, prediction.polls) == ("succeeded", 2)
        if row.model == "stable-diffusion":
            assert prediction.path == SD_PATH
            assert prediction.input["prompt"] == row.input
            assert image in (row.output, row.metadata.get("archived_from"))
        else:
            assert prediction.path == MOONDREAM_PATH
            assert prediction.input["image"] == row.input
            assert row.output == "A red kite"
        assert_metered(row)
    assert len(replicate_fake.received("GET", "/models/*/*")) == 2  # versions are cached
    assert all(
        r.headers["authorization"] == f"Bearer {replicate.TOKEN}" for r in replicate_fake.requests
    )


async def test_gemini_describes_the_audio_the_dummy_made(
    panic: Panic, owner: User, settings: Settings, gemini_fake: FakeGemini, media_host: MediaHost
) -> None:
    net = await panic.create_network(
        owner.id, "g", models=["dummy-t2a", "gemini-audio-description"]
    )
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "rain on a tin roof", steps=4)
    assert_chained(rows, "rain on a tin roof")
    described = [r for r in rows if r.model == "gemini-audio-description"]
    sent = gemini_fake.received("POST", "/models/*")
    assert len(described) >= 2
    assert len(sent) >= len(described)
    for row, request in zip(described, sent, strict=False):
        assert request.path == "/models/gemini-2.5-flash:generateContent"
        assert request.query["key"] == gemini.KEY
        path = urllib.parse.urlsplit(row.input).path
        assert row.input.startswith(settings.base_url)
        # This server's own media is read from disk, never fetched from the public URL.
        assert not media_host.received("GET", path)
        inline = request.json()["contents"][0]["parts"][0]["inline_data"]
        assert inline["mime_type"] in ("audio/wav", "audio/mp3")
        audio = (settings.data_dir / path.lstrip("/")).read_bytes()
        assert base64.b64decode(inline["data"]) == audio
        assert row.output == "A gentle piano melody over soft rain."
        assert_metered(row)


async def test_openai_and_replicate_models_take_turns(
    panic: Panic, owner: User, openai_fake: FakeOpenAI, replicate_fake: FakeReplicate
) -> None:
    openai_fake.reply = "GPT muses"
    replicate_fake.script(CLAUDE_PATH, output=["Claude ", "replies"], polls=1)
    net = await panic.create_network(owner.id, "mix", models=["gpt-5-chat", "claude-4-sonnet"])
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "two voices", steps=4)
    assert_chained(rows, "two voices")
    assert [r.output for r in rows[:4]] == ["GPT muses", "Claude replies"] * 2
    chats = [r.json()["messages"][-1]["content"] for r in openai_fake.requests]
    assert chats[:2] == ["two voices", "Claude replies"]
    for row in rows[1::2]:  # claude-4-sonnet
        prediction = replicate_fake.predictions[row.metadata["prediction_id"]]
        assert prediction.input == {"prompt": "GPT muses"}
        assert_metered(row)


async def test_stopping_cancels_the_replicate_prediction(
    panic: Panic, owner: User, replicate_fake: FakeReplicate
) -> None:
    replicate_fake.script(CLAUDE_PATH, polls=None)  # never settles
    net = await panic.create_network(owner.id, "stop", models=["claude-4-sonnet"])
    with trio.fail_after(GUARD):
        genesis = await panic.start_run(net.id, "go on forever")
        while not replicate_fake.received("GET", "/predictions/*"):  # the client knows the id
            await trio.sleep(0.01)
        [pid] = replicate_fake.predictions
        asked = trio.current_time()
        assert await panic.stop_run(net.id)
        took = trio.current_time() - asked
        assert replicate_fake.cancelled_ids() == [pid]
        replicate_fake.prediction_created = trio.Event()
        with trio.move_on_after(0.3):  # a stopped run must not start another prediction
            await replicate_fake.prediction_created.wait()
    assert took < 0.5
    assert replicate_fake.predictions[pid].status == "canceled"
    assert list(replicate_fake.predictions) == [pid]
    assert panic.status(net.id).state == "idle"
    [row] = await panic.list_run(net.id, genesis.run_number)
    assert row.state == "failed"
    assert row.metadata == {
        "cycle": ["claude-4-sonnet"],
        "cancelled": True,
        "error": "cancelled: stopped",
    }


async def test_a_stop_during_the_create_request_still_cancels_the_prediction(
    panic: Panic, owner: User, replicate_fake: FakeReplicate
) -> None:
    replicate_fake.script(CLAUDE_PATH, polls=None)
    replicate_fake.fail("POST", "*predictions", status=None, delay=0.5)  # a slow create
    net = await panic.create_network(owner.id, "create", models=["claude-4-sonnet"])
    with trio.fail_after(GUARD):
        await panic.start_run(net.id, "stop me while you create")
        while not replicate_fake.received("POST", "*predictions"):
            await trio.sleep(0.01)
        assert replicate_fake.predictions == {}  # the create is still in flight
        assert await panic.stop_run(net.id)
    # Replicate created it after all; we learned its id and cancelled it.
    [pid] = replicate_fake.predictions
    assert replicate_fake.cancelled_ids() == [pid]
    assert replicate_fake.predictions[pid].status == "canceled"


async def test_a_rejected_token_fails_the_run_and_a_new_prompt_runs(
    panic: Panic, owner: User
) -> None:
    await panic.set_platform_token(owner.id, "openai", "sk-wrong-secret")
    net = await panic.create_network(owner.id, "bad", models=["gpt-5-chat"], lockout_seconds=300)
    with trio.fail_after(GUARD):
        genesis, event = await start_and_wait(panic, net.id, "hello", failed)
    [row] = await panic.list_run(net.id, genesis.run_number)
    assert row.state == "failed"
    error = row.metadata["error"]
    assert error.startswith("OpenAI rejected the request (401): Incorrect API key provided")
    assert "sk-wrong-secret" not in error
    assert event.status.error == error
    assert panic.status(net.id).state == "failed"
    await panic.set_platform_token(owner.id, "openai", openai.TOKEN)
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "hello again", steps=1)
    assert rows[0].output == "A creative continuation."


async def test_a_failed_prediction_fails_the_run_with_replicates_reason(
    panic: Panic, owner: User, settings: Settings, replicate_fake: FakeReplicate
) -> None:
    reason = "Invalid input: width is not a multiple of 64"
    replicate_fake.script(SD_PATH, status="failed", error=reason, polls=1)
    net = await panic.create_network(owner.id, "oom", models=["stable-diffusion", "moondream2"])
    with trio.fail_after(GUARD):
        genesis, _ = await start_and_wait(panic, net.id, "a huge mural", failed)
    [row] = await panic.list_run(net.id, genesis.run_number)
    [pid] = replicate_fake.predictions  # an input error: no safe-prompt retry, no new try
    assert (
        row.metadata["error"] == f"Replicate prediction {pid} for stable-diffusion failed: {reason}"
    )
    assert panic.status(net.id).state == "failed"
    replicate_fake.script(SD_PATH, output=[image_url(settings)], polls=0)
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "a small mural", steps=1)
    assert rows[0].metadata["prediction_id"] != pid


async def test_a_prediction_that_fails_twice_is_tried_again_and_the_run_goes_on(
    panic: Panic, owner: User, settings: Settings, replicate_fake: FakeReplicate
) -> None:
    replicate_fake.script(SD_PATH, output=[image_url(settings)], polls=1, failures=2)
    replicate_fake.script(MOONDREAM_PATH, output="a cold start, survived", polls=0)
    net = await panic.create_network(owner.id, "cold", models=["stable-diffusion", "moondream2"])
    with trio.fail_after(GUARD):  # the real 1 s and 2 s waits
        rows = await run_steps(panic, net.id, "a mural", steps=2)
    first = rows[0]
    assert first.state == "completed"
    assert first.metadata["attempts"] == 3
    assert first.metadata["failed_predictions"] == ["pred0001", "pred0002"]
    assert first.metadata["prediction_id"] == "pred0003"
    assert rows[1].output == "a cold start, survived"


async def test_a_refused_prompt_is_retried_with_the_wombat_and_the_run_goes_on(
    panic: Panic, owner: User, settings: Settings, replicate_fake: FakeReplicate
) -> None:
    replicate_fake.script(SD_PATH, output=[image_url(settings)], polls=0)
    replicate_fake.script(MOONDREAM_PATH, output="a wombat with a sign", polls=0)
    replicate_fake.by_prompt["something forbidden"] = Script(status="failed", error=NSFW, polls=0)
    net = await panic.create_network(owner.id, "nsfw", models=["stable-diffusion", "moondream2"])
    with trio.fail_after(GUARD):
        rows = await run_steps(panic, net.id, "something forbidden", steps=2)
    refused, wombat = list(replicate_fake.predictions.values())[:2]
    assert (refused.input["prompt"], refused.status) == ("something forbidden", "failed")
    assert (wombat.input["prompt"], wombat.status) == (WOMBAT_PROMPT, "succeeded")
    first = rows[0]
    assert first.input == "something forbidden"
    assert first.metadata["content_filtered"] is True
    assert NSFW in first.metadata["content_filter_reason"]
    assert first.metadata["prediction_id"] == wombat.id
    assert_metered(first, attempts=2)
    assert rows[1].output == "a wombat with a sign"
