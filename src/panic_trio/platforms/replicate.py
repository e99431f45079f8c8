"""Replicate predictions: look up the version once, create, poll, and cancel on stop.

A Replicate call is a prediction that keeps running (and billing) on
Replicate's side until it settles, so this client owns its whole lifecycle:
polls sleep from 0.5 s up to 2 s (the original polled in a tight loop), the
call has an overall deadline (``settings.invoke_timeout``), and if the call
ends any other way than with a settled prediction (a stop, the deadline, an
error) the prediction is cancelled on Replicate under a shielded, bounded
scope. Stopping a run stops the spending.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import trio

from panic_trio.errors import (
    PlatformError,
    PlatformRejected,
    PlatformTimeout,
    PredictionFailed,
)
from panic_trio.models.platform_records import RECORDS
from panic_trio.platforms.base import Call, Result
from panic_trio.platforms.http import (
    CallMeter,
    RetryPolicy,
    base_url,
    check_response,
    json_object,
    map_httpx_errors,
    require_token,
    retrying,
    unexpected_output,
)
from panic_trio.platforms.replicate_models import MODEL_SPECS, OutputShapeError, Passthrough
from panic_trio.platforms.replicate_predictions import (
    PLATFORM,
    brief,
    prediction_usage,
    settled_output,
)
from panic_trio.settings import Settings

logger = logging.getLogger(__name__)

RECORD: Final = RECORDS[PLATFORM]
PENDING_STATUSES: Final = frozenset({"starting", "processing"})
CANCEL_TIMEOUT_SECONDS: Final = 5.0
FAILED_RETRIES: Final = 3


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How to wait for a prediction.

    Sleeps start at ``initial_seconds`` and grow by ``factor`` up to
    ``max_seconds``; the whole call gets ``timeout_seconds``; a cancel request
    gets ``cancel_timeout_seconds`` even when the call itself was cancelled.
    A prediction that ends ``failed`` (not an NSFW refusal, not an input
    error) is tried again up to ``failed_retries`` times, after
    ``failed_base_seconds`` doubling (1 s, 2 s, 4 s), as the original did:
    cold starts and passing model errors are common on Replicate.
    """

    initial_seconds: float = 0.5
    factor: float = 1.5
    max_seconds: float = 2.0
    timeout_seconds: float = 600.0
    cancel_timeout_seconds: float = CANCEL_TIMEOUT_SECONDS
    failed_retries: int = FAILED_RETRIES
    failed_base_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PollPolicy:
        """The default policy, with a deadline a little inside ``settings.invoke_timeout``.

        The engine's own deadline is ``invoke_timeout``; ours ends first, so
        the operator reads the more precise reason (which prediction was
        cancelled) rather than a bare timeout.
        """
        margin = min(CANCEL_TIMEOUT_SECONDS, settings.invoke_timeout * 0.05)
        return cls(timeout_seconds=settings.invoke_timeout - margin)


def failed_retry_delays(policy: PollPolicy) -> tuple[float, ...]:
    """The sleeps before each new try of a failed prediction: 1, 2, 4 s by default."""
    return tuple(policy.failed_base_seconds * 2**n for n in range(policy.failed_retries))


def poll_delays(policy: PollPolicy) -> Iterator[float]:
    """The sleeps between polls: 0.5, 0.75, 1.125, 1.69, 2, 2, ... by default."""
    delay = policy.initial_seconds
    while True:
        yield min(delay, policy.max_seconds)
        delay = min(delay * policy.factor, policy.max_seconds)


class ReplicatePlatform:
    """Runs catalog models as Replicate predictions.

    Request inputs and output parsing come from
    :data:`~panic_trio.platforms.replicate_models.MODEL_SPECS`. Each model
    path's latest version id is fetched once and cached for the life of the
    client. The injected ``httpx.AsyncClient`` is shared and not closed here.
    """

    name: str = PLATFORM
    display_name: str = RECORD.display_name
    requires_token: bool = RECORD.paid

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
    ) -> None:
        self._client = client
        self._base = base_url(settings, RECORD)
        self._retry = retry or RetryPolicy.from_settings(settings)
        self._poll = poll or PollPolicy.from_settings(settings)
        self._versions: dict[str, str | None] = {}
        self._version_locks: dict[str, trio.Lock] = {}

    async def invoke(self, call: Call) -> Result:
        """Run ``call.model`` on ``call.input`` and return its parsed output.

        Raises:
            PlatformTimeout: no result within the poll policy's deadline (the
                prediction is cancelled).
            ContentFiltered: Replicate refused the content as unsafe.
            PlatformRejected: a failed prediction, a refused request or an
                output of an unexpected shape.
            PlatformUnavailable: transient errors outlasted the retries.
            MissingToken: the call carries no token.
        """
        model_id = call.model.id
        spec = MODEL_SPECS.get(model_id)
        if spec is None:
            raise PlatformRejected(
                f"panic_trio does not know how to call the Replicate model {model_id}",
                platform=PLATFORM,
                model=model_id,
            )
        meter = CallMeter()
        request = spec.build(call.input)
        if isinstance(request, Passthrough):
            return Result(request.output, {**meter.metadata(), "usage": {}})
        token = require_token(call.token, PLATFORM, model_id)
        path = request.path or call.model.path
        timeout = self._poll.timeout_seconds
        with trio.move_on_after(timeout) as deadline:
            prediction, output = await self._settle(
                path, dict(request.input), token, model_id, meter
            )
        if deadline.cancelled_caught:
            what = "no prediction was started"
            if meter.prediction_id:
                what = f"prediction {meter.prediction_id} was cancelled"
            raise PlatformTimeout(
                f"Replicate {model_id} did not finish within {timeout:g} s; {what}",
                platform=PLATFORM,
                model=model_id,
            )
        try:
            text = spec.parse(output)
        except OutputShapeError as exc:
            raise unexpected_output(PLATFORM, model_id, str(exc)) from None
        if not text:
            raise PlatformRejected(
                f"{model_id} returned an empty output", platform=PLATFORM, model=model_id
            )
        return Result(text, {**meter.metadata(), "usage": prediction_usage(prediction)})

    async def _settle(
        self, path: str, data: dict[str, Any], token: str, model_id: str, meter: CallMeter
    ) -> tuple[dict[str, Any], Any]:
        """A settled prediction and its output, trying a failed one again (see :class:`PollPolicy`).

        Each new try is a new prediction; ``meter`` counts it in ``attempts``
        and keeps the ids that failed in ``failed_predictions``.
        """
        delays = failed_retry_delays(self._poll)
        for retry in range(len(delays) + 1):
            prediction = await self._run(path, data, token, model_id, meter)
            try:
                return prediction, settled_output(prediction, model_id)
            except PredictionFailed as exc:
                if retry == len(delays):
                    raise
                meter.retries += 1
                meter.failed_predictions.append(str(prediction.get("id")))
                logger.warning(
                    "%s; trying again in %g s (retry %d of %d)",
                    exc.message,
                    delays[retry],
                    retry + 1,
                    len(delays),
                )
                await trio.sleep(delays[retry])
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(
        self, path: str, data: dict[str, Any], token: str, model_id: str, meter: CallMeter
    ) -> dict[str, Any]:
        """Create the prediction and poll it until it settles; cancel it if we leave early."""
        version = await self._version(path, token, model_id, meter)
        body: dict[str, Any]
        if version is None:
            # "Official" models have no public version and are run by name.
            url, body = f"{self._base}/models/{path}/predictions", {"input": data}
        else:
            url, body = f"{self._base}/predictions", {"version": version, "input": data}
        try:
            prediction = await self._send("POST", url, token, model_id, meter, body, shield=True)
        except PlatformRejected as exc:
            if exc.status in (404, 422):
                self._versions.pop(path, None)  # maybe a stale version: look it up next time
            raise
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise PlatformRejected(
                f"Replicate answered without a prediction id: {brief(prediction)}",
                platform=PLATFORM,
                model=model_id,
            )
        meter.prediction_id = prediction_id
        settled = False
        try:
            delays = poll_delays(self._poll)
            while prediction.get("status") in PENDING_STATUSES:
                await trio.sleep(next(delays))
                poll_url = f"{self._base}/predictions/{prediction_id}"
                prediction = await self._send("GET", poll_url, token, model_id, meter)
            settled = True
        finally:
            if not settled:
                await self._cancel(prediction_id, token, model_id)
        return prediction

    async def _version(self, path: str, token: str, model_id: str, meter: CallMeter) -> str | None:
        """The model's latest version id, fetched once per path (single-flight)."""
        if path in self._versions:
            return self._versions[path]
        async with self._version_locks.setdefault(path, trio.Lock()):
            if path not in self._versions:
                url = f"{self._base}/models/{path}"
                try:
                    body = await self._send("GET", url, token, model_id, meter)
                except PlatformRejected as exc:
                    if exc.status != 404:
                        raise
                    raise PlatformRejected(
                        f"Replicate has no model {path} (404); it may have been removed",
                        status=404,
                        platform=PLATFORM,
                        model=model_id,
                    ) from exc
                latest = body.get("latest_version")
                version = latest.get("id") if isinstance(latest, dict) else None
                self._versions[path] = version if isinstance(version, str) and version else None
        return self._versions[path]

    async def _send(
        self,
        method: str,
        url: str,
        token: str,
        model_id: str,
        meter: CallMeter,
        body: Mapping[str, Any] | None = None,
        *,
        shield: bool = False,
    ) -> dict[str, Any]:
        """One API request with retries.

        With ``shield`` each attempt finishes even if the call is cancelled
        meanwhile (bounded by the cancel timeout): a prediction Replicate has
        created must be known by id, so that it can be cancelled and stop
        costing money. The cancellation then lands at the next checkpoint.
        """

        async def once() -> dict[str, Any]:
            with (
                trio.CancelScope(shield=shield),
                trio.move_on_after(
                    self._poll.cancel_timeout_seconds if shield else math.inf
                ) as bound,
                map_httpx_errors(PLATFORM, model_id),
            ):
                response = await self._client.request(
                    method, url, headers=_headers(token), json=body
                )
            if bound.cancelled_caught:
                raise PlatformTimeout(
                    f"Replicate did not answer {method} {url} within "
                    f"{self._poll.cancel_timeout_seconds:g} s",
                    platform=PLATFORM,
                    model=model_id,
                )
            check_response(response, PLATFORM, model_id)
            return json_object(response, PLATFORM, model_id)

        return await retrying(
            once, policy=self._retry, platform=PLATFORM, model=model_id, meter=meter
        )

    async def _cancel(self, prediction_id: str, token: str, model_id: str) -> None:
        """Ask Replicate to stop the prediction, even while we are being cancelled."""
        url = f"{self._base}/predictions/{prediction_id}/cancel"
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(self._poll.cancel_timeout_seconds) as bound,
        ):
            try:
                with map_httpx_errors(PLATFORM, model_id):
                    response = await self._client.post(url, headers=_headers(token))
                check_response(response, PLATFORM, model_id)
            except PlatformError as exc:
                logger.warning("could not cancel Replicate prediction %s: %s", prediction_id, exc)
            else:
                logger.info("cancelled Replicate prediction %s (%s)", prediction_id, model_id)
        if bound.cancelled_caught:
            logger.warning("cancelling Replicate prediction %s timed out", prediction_id)


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
