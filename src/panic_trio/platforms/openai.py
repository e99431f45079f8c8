"""OpenAI chat completions for the text→text models.

The request is the original's current one (a system prompt asking never to
answer empty, temperature 1.0, 150 completion tokens). A blank answer is an
error rather than an empty completed invocation, because an empty output
would silently end the run at the next step. Refusals and ``content_filter``
finish reasons are :class:`~panic_trio.errors.ContentFiltered`, so the policy
can swap in the safe prompt.
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from panic_trio.errors import ContentFiltered, PlatformRejected
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
from panic_trio.settings import Settings

PLATFORM: Final = "openai"
RECORD: Final = RECORDS[PLATFORM]
SYSTEM_PROMPT: Final = (
    "You are one component of a larger AI artwork system. When given input, always respond "
    "with a creative interpretation, description, or continuation. Never leave a response empty."
)
TEMPERATURE: Final = 1.0
MAX_COMPLETION_TOKENS: Final = 150
CONTENT_FILTER_CODES: Final = frozenset({"content_filter", "content_policy_violation"})


def completion_request(model_path: str, text: str) -> dict[str, Any]:
    """The JSON body of a chat completion for ``text``."""
    return {
        "model": model_path,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
        ],
        "temperature": TEMPERATURE,
        "max_completion_tokens": MAX_COMPLETION_TOKENS,
    }


class OpenAIPlatform:
    """Runs catalog models on OpenAI's chat completions endpoint.

    The injected ``httpx.AsyncClient`` is shared and not closed here; the base
    URL comes from the setting its record names.
    """

    name: str = PLATFORM
    display_name: str = RECORD.display_name
    requires_token: bool = RECORD.paid

    def __init__(
        self, client: httpx.AsyncClient, settings: Settings, *, retry: RetryPolicy | None = None
    ) -> None:
        self._client = client
        self._url = base_url(settings, RECORD) + "/chat/completions"
        self._retry = retry or RetryPolicy.from_settings(settings)

    async def invoke(self, call: Call) -> Result:
        """Complete ``call.input`` with ``call.model`` and return the reply text.

        Raises:
            ContentFiltered: OpenAI refused or filtered the content.
            PlatformRejected: a refused request, a malformed or blank reply.
            PlatformUnavailable: transient errors outlasted the retries.
            MissingToken: the call carries no token.
        """
        model_id = call.model.id
        token = require_token(call.token, PLATFORM, model_id)
        body = completion_request(call.model.path, call.input)
        meter = CallMeter()

        async def once() -> dict[str, Any]:
            with map_httpx_errors(PLATFORM, model_id):
                response = await self._client.post(
                    self._url, json=body, headers={"Authorization": f"Bearer {token}"}
                )
            _raise_if_filtered(response, model_id)
            check_response(response, PLATFORM, model_id)
            return json_object(response, PLATFORM, model_id)

        reply = await retrying(
            once, policy=self._retry, platform=PLATFORM, model=model_id, meter=meter
        )
        text = parse_completion(reply, model_id)
        return Result(text, {**meter.metadata(), "usage": completion_usage(reply)})


def completion_usage(reply: dict[str, Any]) -> dict[str, int]:
    """The billed tokens OpenAI reports in ``usage`` (missing counts are left out)."""
    usage = reply.get("usage")
    if not isinstance(usage, dict):
        return {}
    counts = {
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": usage.get("completion_tokens"),
    }
    return {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}


def _raise_if_filtered(response: httpx.Response, model_id: str) -> None:
    """A 400 whose error code says the content policy refused the request."""
    if response.status_code != 400:
        return
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return
    if isinstance(error, dict) and error.get("code") in CONTENT_FILTER_CODES:
        raise ContentFiltered(
            f"OpenAI refused the content: {error.get('message') or error.get('code')}",
            platform=PLATFORM,
            model=model_id,
        )


def parse_completion(reply: dict[str, Any], model_id: str) -> str:
    """The reply text of a chat completion (or legacy ``text`` choice).

    Raises:
        ContentFiltered: a refusal or a ``content_filter`` finish reason.
        PlatformRejected: no choices, an unknown shape, or a blank reply.
    """
    choices = reply.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise unexpected_output(PLATFORM, model_id, "no choices in the reply")
    choice: dict[str, Any] = choices[0]
    finish_reason = choice.get("finish_reason")
    message = choice.get("message")
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if finish_reason == "content_filter" or refusal:
        raise ContentFiltered(
            f"OpenAI refused the content: {refusal or 'the content filter stopped the reply'}",
            platform=PLATFORM,
            model=model_id,
        )
    if isinstance(message, dict):
        content = message.get("content")
    elif "text" in choice:
        content = choice["text"]
    else:
        raise unexpected_output(PLATFORM, model_id, "the choice has neither a message nor text")
    if content is not None and not isinstance(content, str):
        raise unexpected_output(
            PLATFORM, model_id, f"the reply content is a {type(content).__name__}"
        )
    text = (content or "").strip()
    if not text:
        raise PlatformRejected(
            f"OpenAI returned an empty reply for {model_id} (finish reason: {finish_reason})",
            platform=PLATFORM,
            model=model_id,
        )
    return text
