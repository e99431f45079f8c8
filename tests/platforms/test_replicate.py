"""Replicate predictions against the fake server: lifecycle, errors, retries, cancel."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio
import trio.testing

from panic_trio.errors import (
    ContentFiltered,
    MissingToken,
    PlatformRejected,
    PlatformTimeout,
    PlatformUnavailable,
)
from panic_trio.platforms.base import Result
from panic_trio.platforms.replicate import (
    PollPolicy,
    ReplicatePlatform,
    failed_retry_delays,
    poll_delays,
)
from tests.fakes.replicate import TOKEN, FakeReplicate, version_for
from tests.platforms.conftest import (
    FAST_POLL,
    FAST_RETRY,
    GUARD_SECONDS,
    make_call,
    platform_settings,
)

SD = "stable-diffusion"
SD_PATH = "stability-ai/stable-diffusion-3.5-large-turbo"
IMAGE = "https://replicate.delivery/fake/out-0.png"


def platform(
    fake: FakeReplicate,
    client: httpx.AsyncClient,
    *,
    poll: PollPolicy = FAST_POLL,
    **settings: Any,
) -> ReplicatePlatform:
    return ReplicatePlatform(
        client,
        platform_settings(replicate_base_url=fake.url, **settings),
        retry=FAST_RETRY,
        poll=poll,
    )


async def invoke(
    replicate: ReplicatePlatform, model: str = SD, text: str = "a red balloon", token: str = TOKEN
) -> Result:
    with trio.fail_after(GUARD_SECONDS):
        return await replicate.invoke(make_call(model, text, token))


async def test_a_prediction_runs_its_whole_lifecycle(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, output=[IMAGE], polls=2)
    result = await invoke(platform(replicate_fake, http_client))

    assert result.output == IMAGE
    [prediction] = replicate_fake.predictions.values()
    assert result.metadata["prediction_id"] == prediction.id
    assert result.metadata["attempts"] == 1
    assert isinstance(result.metadata["latency_ms"], int)
    assert prediction.status == "succeeded"
    assert prediction.polls == 2
    [create] = replicate_fake.received("POST", "/predictions")
    assert create.json() == {
        "version": version_for(SD_PATH),
        "input": {"prompt": "a red balloon", "aspect_ratio": "16:9", "output_format": "png"},
    }
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    assert len(replicate_fake.received("GET", f"/predictions/{prediction.id}")) == 2
    assert replicate_fake.cancelled_ids() == []


async def test_the_version_is_looked_up_once_per_path(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate = platform(replicate_fake, http_client)
    replicate_fake.script(SD_PATH, output=IMAGE, polls=0)
    for _ in range(3):
        await invoke(replicate)
    assert len(replicate_fake.received("GET", f"/models/{SD_PATH}")) == 1
    assert len(replicate_fake.received("POST", "/predictions")) == 3


async def test_a_stale_version_is_looked_up_again_after_a_422(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate = platform(replicate_fake, http_client)
    replicate_fake.fail("POST", "/predictions", status=422, json_body={"detail": "Invalid version"})
    with pytest.raises(PlatformRejected, match=r"\(422\): Invalid version"):
        await invoke(replicate)
    await invoke(replicate)
    assert len(replicate_fake.received("GET", f"/models/{SD_PATH}")) == 2


async def test_a_model_without_a_public_version_runs_by_name(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.official.add(SD_PATH)
    replicate_fake.script(SD_PATH, output=IMAGE)
    result = await invoke(platform(replicate_fake, http_client))
    assert result.output == IMAGE
    [create] = replicate_fake.received("POST", f"/models/{SD_PATH}/predictions")
    assert set(create.json()) == {"input"}


async def test_an_unknown_model_path_is_a_clear_rejection(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.missing.add(SD_PATH)
    with pytest.raises(PlatformRejected, match=f"Replicate has no model {SD_PATH}") as info:
        await invoke(platform(replicate_fake, http_client))
    assert info.value.status == 404


async def test_stopping_a_call_cancels_the_prediction_on_replicate(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, polls=None)  # never settles: only a cancel ends it
    replicate = platform(replicate_fake, http_client)
    with trio.fail_after(GUARD_SECONDS):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(invoke, replicate)
            await replicate_fake.prediction_created.wait()
            await trio.sleep(0.05)  # let it poll a few times
            stopped_at = trio.current_time()
            nursery.cancel_scope.cancel("stopped by admin")
        elapsed = trio.current_time() - stopped_at

    [prediction] = replicate_fake.predictions.values()
    assert replicate_fake.cancelled_ids() == [prediction.id]
    assert prediction.status == "canceled"
    assert prediction.polls >= 1
    assert elapsed < 1.0


async def test_a_slow_cancel_request_is_bounded(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, polls=None)
    replicate_fake.fail("POST", "/predictions/*/cancel", status=None, delay=5.0)
    poll = PollPolicy(initial_seconds=0.01, max_seconds=0.01, cancel_timeout_seconds=0.2)
    replicate = platform(replicate_fake, http_client, poll=poll)
    with trio.fail_after(GUARD_SECONDS):
        with trio.move_on_after(0.1):
            await invoke(replicate)
        stopped_at = trio.current_time()
    assert len(replicate_fake.received("POST", "/predictions/*/cancel")) == 1
    assert trio.current_time() - stopped_at < 1.0


async def test_the_overall_timeout_raises_and_cancels(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, polls=None)
    poll = PollPolicy(initial_seconds=0.01, max_seconds=0.02, timeout_seconds=0.3)
    with pytest.raises(PlatformTimeout, match=r"did not finish within 0\.3 s; prediction \S+ was"):
        await invoke(platform(replicate_fake, http_client, poll=poll))
    assert len(replicate_fake.cancelled_ids()) == 1


@pytest.mark.parametrize(
    ("status", "error", "expected", "match"),
    [
        (
            "failed",
            "CUDA out of memory",
            PlatformRejected,
            r"pred0004 for stable-diffusion failed: CUDA",  # after three more tries,
        ),
        ("failed", None, PlatformRejected, "failed: no reason given"),
        ("failed", {"code": 5}, PlatformRejected, r'failed: \{"code": 5\}'),
        ("failed", "NSFW content detected. Try again.", ContentFiltered, "refused the content"),
        ("failed", "Output flagged as sensitive (E005)", ContentFiltered, "E005"),
        ("canceled", None, PlatformRejected, "was cancelled on Replicate"),
        ("aborted", None, PlatformRejected, "unknown status 'aborted'"),
    ],
)
async def test_unsuccessful_predictions_are_errors(
    replicate_fake: FakeReplicate,
    http_client: httpx.AsyncClient,
    status: str,
    error: Any,
    expected: type[Exception],
    match: str,
) -> None:
    replicate_fake.script(SD_PATH, status=status, error=error, polls=1)
    with pytest.raises(expected, match=match):
        await invoke(platform(replicate_fake, http_client))
    assert replicate_fake.cancelled_ids() == []


async def test_unexpected_output_shapes_are_rejected_not_crashes(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate = platform(replicate_fake, http_client)
    outputs: list[Any] = [None, {"images": [IMAGE]}, [], 42]
    for output in outputs:
        replicate_fake.script(SD_PATH, output=output, polls=0)
        with pytest.raises(PlatformRejected, match="unexpected output from stable-diffusion"):
            await invoke(replicate)


async def test_an_empty_output_is_an_error(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script("anthropic/claude-4-sonnet", output=["", "  "], polls=0)
    with pytest.raises(PlatformRejected, match="claude-4-sonnet returned an empty output"):
        await invoke(platform(replicate_fake, http_client), "claude-4-sonnet")


async def test_a_bad_token_is_rejected_without_retries(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(PlatformRejected) as info:
        await invoke(platform(replicate_fake, http_client), token="r8_wrong")
    assert info.value.status == 401
    assert info.value.message == (
        "Replicate rejected the request (401): You did not pass a valid authentication token"
    )
    assert len(replicate_fake.requests) == 1


async def test_a_server_error_is_retried(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, output=IMAGE)
    replicate_fake.fail("POST", "/predictions", status=500, body="Internal Server Error")
    replicate_fake.fail("GET", "/predictions/*", status=502, body="Bad gateway")
    result = await invoke(platform(replicate_fake, http_client))
    assert result.output == IMAGE
    assert result.metadata["attempts"] == 3
    assert len(replicate_fake.received("POST", "/predictions")) == 2


async def test_429_waits_for_retry_after(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, output=IMAGE, polls=0)
    replicate_fake.fail(
        "POST",
        "/predictions",
        status=429,
        json_body={"detail": "Request was throttled. Expected available in 1 second."},
        headers={"Retry-After": "0.3"},
    )
    started = trio.current_time()
    result = await invoke(platform(replicate_fake, http_client))
    assert trio.current_time() - started >= 0.3  # FAST_RETRY alone would wait ~0.01 s
    assert result.metadata["attempts"] == 2


async def test_transient_errors_that_persist_become_unavailable(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.fail("GET", "/models/*/*", status=503, json_body={"detail": "down"}, times=9)
    with pytest.raises(PlatformUnavailable, match=r"\(503\): down \(gave up after 4 attempts\)"):
        await invoke(platform(replicate_fake, http_client))
    assert len(replicate_fake.received("GET", "/models/*/*")) == 4


async def test_a_slow_response_times_out_and_is_retried(
    replicate_fake: FakeReplicate,
) -> None:
    replicate_fake.script(SD_PATH, output=IMAGE, polls=0)
    replicate_fake.fail("GET", "/models/*/*", status=None, delay=1.0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as client:
        result = await invoke(platform(replicate_fake, client))
    assert result.output == IMAGE
    assert result.metadata["attempts"] == 2


async def test_malformed_json_is_rejected(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.fail(
        "GET", "/models/*/*", status=200, body="{not json", content_type="text/plain"
    )
    with pytest.raises(PlatformRejected, match=r"Replicate sent a malformed response \(200\)"):
        await invoke(platform(replicate_fake, http_client))


async def test_a_prediction_without_an_id_is_rejected(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.fail("POST", "/predictions", status=201, json_body={"status": "starting"})
    with pytest.raises(PlatformRejected, match="without a prediction id"):
        await invoke(platform(replicate_fake, http_client))


async def test_an_unreachable_server_is_unavailable(http_client: httpx.AsyncClient) -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    replicate = ReplicatePlatform(
        http_client,
        platform_settings(replicate_base_url=f"http://127.0.0.1:{port}"),
        retry=FAST_RETRY,
        poll=FAST_POLL,
    )
    with pytest.raises(PlatformUnavailable, match="could not reach Replicate"):
        await invoke(replicate)


async def test_a_missing_token_makes_no_request(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(MissingToken, match="no Replicate API token"):
        await invoke(platform(replicate_fake, http_client), token="")
    assert replicate_fake.requests == []


async def test_image_reproducer_ii_makes_no_call(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    result = await invoke(platform(replicate_fake, http_client), "image-reproducer-ii-flux", IMAGE)
    assert result.output == IMAGE
    assert replicate_fake.requests == []


async def test_a_failed_prediction_is_tried_again_until_it_succeeds(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, output=[IMAGE], polls=1, failures=2)
    result = await invoke(platform(replicate_fake, http_client))
    assert result.output == IMAGE
    assert list(replicate_fake.predictions) == ["pred0001", "pred0002", "pred0003"]
    assert [p.status for p in replicate_fake.predictions.values()] == [
        "failed",
        "failed",
        "succeeded",
    ]
    assert result.metadata["attempts"] == 3
    assert result.metadata["failed_predictions"] == ["pred0001", "pred0002"]
    assert result.metadata["prediction_id"] == "pred0003"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("NSFW content detected. Try again.", ContentFiltered),
        ("Invalid input: prompt is too long", PlatformRejected),
        ("image must be one of png, jpg", PlatformRejected),
    ],
)
async def test_refusals_and_input_errors_are_not_tried_again(
    replicate_fake: FakeReplicate,
    http_client: httpx.AsyncClient,
    error: str,
    expected: type[Exception],
) -> None:
    replicate_fake.script(SD_PATH, output=[IMAGE], polls=1, failures=1, failure_error=error)
    with pytest.raises(expected) as refused:
        await invoke(platform(replicate_fake, http_client))
    assert error in str(refused.value)
    assert list(replicate_fake.predictions) == ["pred0001"]


async def test_a_prediction_that_keeps_failing_gives_up_after_three_more_tries(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient
) -> None:
    replicate_fake.script(SD_PATH, output=[IMAGE], polls=1, failures=10)
    with pytest.raises(PlatformRejected, match=r"pred0004 .* failed: CUDA error"):
        await invoke(platform(replicate_fake, http_client))
    assert len(replicate_fake.predictions) == 4


def test_failed_predictions_wait_one_two_four_seconds() -> None:
    assert failed_retry_delays(PollPolicy()) == (1.0, 2.0, 4.0)


class FailingTransport:
    """An in-memory Replicate whose first ``failures`` predictions end failed at once."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.created: list[float] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await trio.lowlevel.checkpoint()
        if request.url.path.startswith("/models/"):
            return httpx.Response(200, json={"latest_version": {"id": "v1"}})
        self.created.append(trio.current_time())
        pid = f"p{len(self.created)}"
        if len(self.created) <= self.failures:
            return httpx.Response(201, json={"id": pid, "status": "failed", "error": "cold"})
        return httpx.Response(201, json={"id": pid, "status": "succeeded", "output": [IMAGE]})


async def test_failed_prediction_retries_wait_exactly_in_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = FailingTransport(failures=2)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        replicate = ReplicatePlatform(client, platform_settings(replicate_base_url="http://r.test"))
        result = await replicate.invoke(make_call(SD, "a red balloon", TOKEN))
    assert result.output == IMAGE
    assert transport.created == [0.0, 1.0, 3.0]
    assert result.metadata["attempts"] == 3
    assert result.metadata["latency_ms"] == 3000


def test_poll_delays_grow_to_the_cap() -> None:
    delays = poll_delays(PollPolicy())
    assert [next(delays) for _ in range(7)] == [0.5, 0.75, 1.125, 1.6875, 2.0, 2.0, 2.0]


class ScriptedTransport:
    """An in-memory Replicate for virtual-time tests (no sockets)."""

    def __init__(self, pending_polls: int | None) -> None:
        self.pending_polls = pending_polls
        self.poll_times: list[float] = []
        self.cancelled = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await trio.lowlevel.checkpoint()
        path = request.url.path
        if path.startswith("/models/"):
            return httpx.Response(200, json={"latest_version": {"id": "v1"}})
        if path == "/predictions":
            return httpx.Response(201, json={"id": "p1", "status": "starting"})
        if path.endswith("/cancel"):
            self.cancelled = True
            return httpx.Response(200, json={"id": "p1", "status": "canceled"})
        self.poll_times.append(trio.current_time())
        done = self.pending_polls is not None and len(self.poll_times) > self.pending_polls
        status = "succeeded" if done else "processing"
        return httpx.Response(200, json={"id": "p1", "status": status, "output": [IMAGE]})


async def test_polling_sleeps_grow_in_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(pending_polls=6)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        replicate = ReplicatePlatform(client, platform_settings(replicate_base_url="http://r.test"))
        result = await replicate.invoke(make_call(SD, "a red balloon", TOKEN))
    assert result.output == IMAGE
    gaps = [b - a for a, b in zip([0.0, *transport.poll_times], transport.poll_times, strict=False)]
    assert gaps == pytest.approx([0.5, 0.75, 1.125, 1.6875, 2.0, 2.0, 2.0])
    assert result.metadata["latency_ms"] == round(sum(gaps) * 1000)


async def test_the_overall_timeout_ends_just_inside_invoke_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(pending_polls=None)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        settings = platform_settings(replicate_base_url="http://r.test", invoke_timeout=30.0)
        replicate = ReplicatePlatform(client, settings)
        # 5 % (at most 5 s) before the engine's own deadline, so this clearer message wins.
        with pytest.raises(PlatformTimeout, match=r"within 28.5 s; prediction .* was cancelled"):
            await replicate.invoke(make_call(SD, "a red balloon", TOKEN))
    assert trio.current_time() == pytest.approx(28.5)
    assert transport.cancelled
