"""The shared HTTP boundary: backoff maths, error mapping, the retry loop."""

from __future__ import annotations

import errno
import json
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from panic_trio.errors import (
    ContentFiltered,
    PlatformRejected,
    PlatformUnavailable,
    ResourceExhausted,
)
from panic_trio.platforms.http import (
    CallMeter,
    RetryPolicy,
    TransientError,
    backoff_delay,
    error_for_response,
    json_object,
    map_httpx_errors,
    parse_retry_after,
    provider_message,
    retrying,
)


def response(
    status: int, body: Any = None, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


# -- backoff_delay ------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"),
    [(0, 0.0, 0.25), (0, 1.0, 0.5), (1, 0.0, 0.5), (1, 1.0, 1.0), (2, 0.5, 1.5), (3, 1.0, 4.0)],
)
def test_backoff_doubles_from_the_base_with_equal_jitter(
    retry: int, jitter: float, expected: float
) -> None:
    assert backoff_delay(retry, base=0.5, cap=8.0, jitter=jitter) == pytest.approx(expected)


def test_backoff_is_capped() -> None:
    assert backoff_delay(4, base=0.5, cap=8.0, jitter=1.0) == 8.0
    assert backoff_delay(30, base=0.5, cap=8.0, jitter=1.0) == 8.0
    assert backoff_delay(30, base=0.5, cap=8.0, jitter=0.0) == 4.0


def test_backoff_honours_retry_after_over_the_schedule() -> None:
    assert backoff_delay(0, base=0.5, cap=8.0, jitter=0.0, retry_after=3.0) == 3.0
    assert backoff_delay(5, base=0.5, cap=8.0, jitter=1.0, retry_after=0.0) == 0.0
    assert backoff_delay(0, base=0.5, cap=8.0, jitter=1.0, retry_after=-2.0) == 0.0


def test_backoff_clamps_jitter() -> None:
    assert backoff_delay(0, base=1.0, cap=8.0, jitter=7.0) == 1.0
    assert backoff_delay(0, base=1.0, cap=8.0, jitter=-1.0) == 0.5


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 0.25 ", 0.25),
        ("-1", 0.0),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_reads_seconds_only(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


# -- responses → errors ------------------------------------------------------


def test_provider_message_reads_each_providers_shape() -> None:
    assert provider_message(response(400, {"error": {"message": "bad key"}})) == "bad key"
    assert provider_message(response(404, {"detail": "Not found."})) == "Not found."
    assert provider_message(response(401, {"message": "Unauthorized"})) == "Unauthorized"
    assert (
        provider_message(response(502, "<html>  Bad\n gateway </html>"))
        == "<html> Bad gateway </html>"
    )
    assert provider_message(httpx.Response(503)) == "Service Unavailable"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 520])
def test_transient_statuses_become_transient_errors(status: int) -> None:
    error = error_for_response(
        response(status, {"detail": "slow down"}, headers={"Retry-After": "2"}), "replicate", "m"
    )
    assert isinstance(error, TransientError)
    assert isinstance(error, PlatformUnavailable)
    assert error.retry_after == 2.0
    assert error.status == status
    assert "slow down" in error.message
    assert error.platform == "replicate"
    assert error.model == "m"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_rejections_in_words(status: int) -> None:
    error = error_for_response(response(status, {"detail": "Invalid token"}), "replicate", "m")
    assert type(error) is PlatformRejected
    assert error.status == status
    assert error.message == f"Replicate rejected the request ({status}): Invalid token"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth"), (403, "auth"), (400, "input"), (404, "input"), (422, "input")],
)
def test_a_rejection_says_its_kind(status: int, kind: str) -> None:
    """``kind`` becomes the failed invocation's ``metadata.error_kind``; alerts read ``auth``."""
    assert error_for_response(response(status, {"detail": "no"}), "openai", "m").kind == kind


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit"), (503, "unavailable")])
async def test_giving_up_keeps_the_kind_of_the_last_transient_error(
    autojump_clock: trio.testing.MockClock, status: int, kind: str
) -> None:
    busy = error_for_response(response(status, {"detail": "busy"}), "openai", "m")
    assert busy.kind == kind

    async def always_busy() -> str:
        raise busy

    with pytest.raises(PlatformUnavailable) as info:
        await retrying(always_busy, policy=POLICY, platform="openai", model="m")
    assert info.value.kind == kind


def test_client_error_with_an_nsfw_message_is_content_filtered() -> None:
    error = error_for_response(response(400, {"detail": "NSFW content detected"}), "replicate", "m")
    assert isinstance(error, ContentFiltered)


def test_json_object_rejects_malformed_and_non_object_bodies() -> None:
    assert json_object(response(200, {"a": 1}), "openai", "m") == {"a": 1}
    with pytest.raises(
        PlatformRejected, match=r"OpenAI sent a malformed response \(200\): not json"
    ):
        json_object(response(200, "not json{"), "openai", "m")
    with pytest.raises(PlatformRejected, match="malformed"):
        json_object(response(200, [1, 2]), "openai", "m")
    with pytest.raises(PlatformRejected, match=r"\(empty body\)"):
        json_object(httpx.Response(200), "openai", "m")


def _raise(exc: Exception) -> None:
    raise exc


def test_map_httpx_errors_translates_at_the_boundary() -> None:
    request = httpx.Request("GET", "http://x.test/")
    with (
        pytest.raises(TransientError, match="could not reach Gemini"),
        map_httpx_errors("gemini", "m"),
    ):
        _raise(httpx.ConnectError("refused", request=request))
    with (
        pytest.raises(TransientError, match="did not answer in time"),
        map_httpx_errors("gemini", "m"),
    ):
        _raise(httpx.ReadTimeout("slow", request=request))
    with pytest.raises(PlatformRejected, match="base URL"), map_httpx_errors("gemini", "m"):
        _raise(httpx.UnsupportedProtocol("ftp?", request=request))
    with (
        pytest.raises(TransientError, match="could not reach the audio"),
        map_httpx_errors("gemini", "m", target="the audio"),
    ):
        _raise(httpx.RemoteProtocolError("eof", request=request))
    status_error = httpx.HTTPStatusError(
        "401", request=request, response=response(401, {"error": {"message": "no"}})
    )
    with pytest.raises(PlatformRejected, match=r"\(401\): no"), map_httpx_errors("openai", "m"):
        _raise(status_error)


# -- retrying (virtual time) -------------------------------------------------


class Flaky:
    """Fails with the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def transient(retry_after: float | None = None) -> TransientError:
    return TransientError("Replicate is unavailable (503): busy", retry_after=retry_after)


POLICY = RetryPolicy(retries=3, base_seconds=0.5, cap_seconds=8.0)


async def test_retrying_backs_off_exponentially(autojump_clock: trio.testing.MockClock) -> None:
    flaky = Flaky(transient(), transient(), transient())
    meter = CallMeter()
    result = await retrying(
        flaky, policy=POLICY, platform="replicate", model="m", meter=meter, jitter=lambda: 1.0
    )
    assert result == "ok"
    assert flaky.calls == [0.0, 0.5, 1.5, 3.5]
    assert meter.retries == 3
    assert meter.metadata() == {"latency_ms": 3500, "attempts": 4}


async def test_retrying_honours_retry_after(autojump_clock: trio.testing.MockClock) -> None:
    flaky = Flaky(transient(retry_after=3.0))
    assert await retrying(flaky, policy=POLICY, platform="openai", model="m") == "ok"
    assert flaky.calls == [0.0, 3.0]


async def test_retrying_gives_up_after_the_allowed_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(*(transient() for _ in range(10)))
    with pytest.raises(PlatformUnavailable, match=r"busy \(gave up after 4 attempts\)") as info:
        await retrying(flaky, policy=POLICY, platform="replicate", model="m", jitter=lambda: 0.0)
    assert type(info.value) is PlatformUnavailable
    assert info.value.platform == "replicate"
    assert len(flaky.calls) == 4


async def test_retrying_with_zero_retries_tries_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(transient())
    with pytest.raises(PlatformUnavailable, match="gave up after 1 attempt"):
        await retrying(flaky, policy=RetryPolicy(retries=0), platform="replicate", model="m")
    assert len(flaky.calls) == 1


async def test_retrying_does_not_wait_out_a_long_retry_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(transient(retry_after=3600))
    with pytest.raises(PlatformUnavailable, match="asks to wait 3600 s"):
        await retrying(flaky, policy=POLICY, platform="replicate", model="m")
    assert flaky.calls == [0.0]


async def test_retrying_never_retries_rejections(autojump_clock: trio.testing.MockClock) -> None:
    flaky = Flaky(PlatformRejected("Replicate rejected the request (401): no", status=401))
    with pytest.raises(PlatformRejected, match="401"):
        await retrying(flaky, policy=POLICY, platform="replicate", model="m")
    assert flaky.calls == [0.0]


def test_retry_policy_from_settings_uses_platform_retries() -> None:
    from panic_trio.settings import Settings

    policy = RetryPolicy.from_settings(Settings(platform_retries=5))
    assert policy == RetryPolicy(retries=5, base_seconds=0.5, cap_seconds=8.0)


def test_running_out_of_files_to_reach_a_provider_is_resource_exhaustion() -> None:
    # Not the provider's fault, and not to be retried into a failed run: the
    # runner pauses on ResourceExhausted (issue 12, the socket flood).
    out_of_files = OSError(errno.EMFILE, "Too many open files")
    with pytest.raises(ResourceExhausted, match="out of"), map_httpx_errors("openai", "gpt"):
        raise httpx.ConnectError("[Errno 24] Too many open files") from out_of_files
    with pytest.raises(PlatformUnavailable) as refused, map_httpx_errors("openai", "gpt"):
        raise httpx.ConnectError("connection refused") from ConnectionRefusedError()
    assert not isinstance(refused.value, ResourceExhausted)
