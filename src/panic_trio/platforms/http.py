"""HTTP plumbing shared by the platform clients: one error boundary, one retry loop.

httpx errors and HTTP error statuses become the :mod:`panic_trio.errors` tree
here and nowhere else (:func:`map_httpx_errors`, :func:`check_response`), so a
platform module only ever sees ``PlatformError``. Transient failures (408, 429,
5xx, dropped connections, httpx timeouts) raise :class:`TransientError`, which
:func:`retrying` retries with capped exponential backoff and jitter, honouring
``Retry-After``. Everything else fails at once with the provider's own words.

All waiting goes through ``trio.sleep`` and all timing through
``trio.current_time`` so tests can drive it with a ``MockClock``.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import httpx
import trio

from panic_trio.errors import (
    ConfigError,
    ContentFiltered,
    MissingToken,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    ResourceExhausted,
    is_resource_exhaustion,
)
from panic_trio.models.platform_records import PlatformRecord, display_name
from panic_trio.platforms.policy import detect_nsfw
from panic_trio.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SNIPPET_CHARS: Final = 200


def base_url(settings: Settings, record: PlatformRecord) -> str:
    """The platform's base URL without a trailing slash (its record names the setting).

    Raises:
        ConfigError: the record names no setting, or one ``Settings`` lacks.
    """
    value = getattr(settings, record.base_url_setting or "", None)
    if not isinstance(value, str):
        raise ConfigError(f"{record.display_name} has no base-URL setting")
    return value.rstrip("/")


def is_transient_status(status: int) -> bool:
    """408, 429 and every 5xx: worth another try after a pause."""
    return status in (408, 429) or status >= 500


class TransientError(PlatformUnavailable):
    """A failure that may go away if we wait: :func:`retrying` retries it.

    ``retry_after`` is the provider's ``Retry-After`` in seconds, if it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        platform: str = "",
        model: str = "",
    ) -> None:
        kind = "rate_limit" if status == 429 else "unavailable"
        super().__init__(message, platform=platform, model=model, kind=kind)
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry transient failures.

    ``retries`` is the number of extra attempts (0 = try once). Delays double
    from ``base_seconds`` up to ``cap_seconds``; a ``Retry-After`` longer than
    ``max_retry_after_seconds`` is not waited out but reported at once.
    """

    retries: int = 3
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    max_retry_after_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The default policy with ``settings.platform_retries`` retries."""
        return cls(retries=settings.platform_retries)


def backoff_delay(
    retry: int, *, base: float, cap: float, jitter: float, retry_after: float | None = None
) -> float:
    """Seconds to wait before retry number ``retry`` (0 for the first retry).

    Pure, so it is tested without a clock. A provider's ``retry_after`` wins;
    otherwise "equal jitter": half of ``min(cap, base * 2**retry)`` plus
    ``jitter`` (in [0, 1]) times the other half, so concurrent callers spread
    out but never retry sooner than half the nominal delay.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    ceiling = min(cap, base * 2.0 ** max(0, retry))
    return ceiling / 2 + ceiling / 2 * min(1.0, max(0.0, jitter))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, or ``None`` when absent or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(slots=True)
class CallMeter:
    """What one platform call records in ``Result.metadata``.

    ``retries`` counts transient retries across every request of the call.
    """

    started: float = field(default_factory=trio.current_time)
    retries: int = 0
    prediction_id: str | None = None
    failed_predictions: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """``latency_ms``, ``attempts`` and, where there is one, ``prediction_id``."""
        meta: dict[str, Any] = {
            "latency_ms": round((trio.current_time() - self.started) * 1000),
            "attempts": 1 + self.retries,
        }
        if self.prediction_id is not None:
            meta["prediction_id"] = self.prediction_id
        if self.failed_predictions:
            meta["failed_predictions"] = list(self.failed_predictions)
        return meta


def require_token(token: str | None, platform: str, model: str) -> str:
    """The token, or :class:`MissingToken` saying what to do about it."""
    if not token:
        name = display_name(platform)
        raise MissingToken(
            f"The network owner has no {name} API token; add one on the dashboard",
            platform=platform,
            model=model,
        )
    return token


@contextmanager
def map_httpx_errors(platform: str, model: str, *, target: str | None = None) -> Iterator[None]:
    """Translate httpx exceptions raised inside the block into the error tree.

    ``target`` names what was being reached (default: the platform), so a
    failed audio download does not read as an outage of the provider.
    Timeouts and transport errors become :class:`TransientError`.
    """
    where = target or display_name(platform)
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientError(
            f"{where} did not answer in time ({type(exc).__name__})", platform=platform, model=model
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PlatformRejected(
            f"cannot call {where}: {exc} (check the base URL setting)",
            platform=platform,
            model=model,
        ) from exc
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        if is_resource_exhaustion(exc):  # our file limit, not the provider: pause the run
            raise ResourceExhausted(
                f"could not reach {where}: this server is out of {reason}",
                platform=platform,
                model=model,
            ) from exc
        raise TransientError(
            f"could not reach {where}: {reason}", platform=platform, model=model
        ) from exc
    except httpx.HTTPStatusError as exc:
        raise error_for_response(exc.response, platform, model) from exc
    except httpx.HTTPError as exc:
        raise PlatformRejected(
            f"{where} request failed: {exc}", platform=platform, model=model
        ) from exc


def provider_message(response: httpx.Response) -> str:
    """The provider's own explanation of an error response, in one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("detail", "message", "error", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    text = " ".join(response.text.split())
    if text:
        return text[:_SNIPPET_CHARS]
    return response.reason_phrase or "no details given"


def error_for_response(response: httpx.Response, platform: str, model: str) -> PlatformError:
    """The error an unsuccessful response stands for (not raised, returned)."""
    name = display_name(platform)
    status = response.status_code
    message = provider_message(response)
    if is_transient_status(status):
        what = "rate-limited the request" if status == 429 else "is unavailable"
        return TransientError(
            f"{name} {what} ({status}): {message}",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            status=status,
            platform=platform,
            model=model,
        )
    if 400 <= status < 500 and detect_nsfw(message):
        return ContentFiltered(
            f"{name} refused the content ({status}): {message}", platform=platform, model=model
        )
    return PlatformRejected(
        f"{name} rejected the request ({status}): {message}",
        status=status,
        platform=platform,
        model=model,
    )


def unexpected_output(platform: str, model: str, detail: str) -> PlatformRejected:
    """The error for a reply whose shape we cannot read (never a crash)."""
    return PlatformRejected(
        f"unexpected output from {model}: {detail}", platform=platform, model=model
    )


def check_response(response: httpx.Response, platform: str, model: str) -> None:
    """Raise the mapped error unless the response is a 2xx."""
    if not response.is_success:
        raise error_for_response(response, platform, model)


def json_object(response: httpx.Response, platform: str, model: str) -> dict[str, Any]:
    """The response body as a JSON object, or :class:`PlatformRejected` if it is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    else:
        if isinstance(body, dict):
            return body
    snippet = " ".join(response.text.split())[:_SNIPPET_CHARS] or "(empty body)"
    raise PlatformRejected(
        f"{display_name(platform)} sent a malformed response ({response.status_code}): {snippet}",
        status=response.status_code,
        platform=platform,
        model=model,
    )


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    platform: str,
    model: str,
    meter: CallMeter | None = None,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Await ``attempt()``, retrying :class:`TransientError` per ``policy``.

    Returns:
        Whatever ``attempt`` returns.

    Raises:
        PlatformUnavailable: still transient after ``policy.retries`` retries,
            or the provider asked us to wait longer than we are willing to.
        PlatformError: any other failure, at once.
    """
    retry = 0
    while True:
        try:
            return await attempt()
        except TransientError as exc:
            if exc.retry_after is not None and exc.retry_after > policy.max_retry_after_seconds:
                raise PlatformUnavailable(
                    f"{exc.message}; it asks to wait {exc.retry_after:g} s, so try again later",
                    platform=platform,
                    model=model,
                    kind=exc.kind,
                ) from exc
            if retry >= policy.retries:
                tries = "1 attempt" if retry == 0 else f"{retry + 1} attempts"
                raise PlatformUnavailable(
                    f"{exc.message} (gave up after {tries})",
                    platform=platform,
                    model=model,
                    kind=exc.kind,
                ) from exc
            delay = backoff_delay(
                retry,
                base=policy.base_seconds,
                cap=policy.cap_seconds,
                jitter=jitter(),
                retry_after=exc.retry_after,
            )
            logger.warning("%s (retry %d in %.2f s)", exc.message, retry + 1, delay)
            await trio.sleep(delay)
            retry += 1
            if meter is not None:
                meter.retries += 1
