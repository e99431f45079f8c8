"""Content refusals: how to recognise one, and one retry with a safe prompt.

:func:`detect_nsfw` holds the original's rules for reading a provider's error
message as a content refusal; the platforms raise ``ContentFiltered`` on it.
A refused prompt would end the run; the installation prefers to carry on with
a harmless picture. The safe prompt is text, so it only stands in for models
that take text: an image or audio model cannot be fed a sentence as if it
were a URL (the original tried, and that retry could never succeed).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Final

import trio

from panic_trio.errors import ContentFiltered
from panic_trio.platforms.base import Call, Platform, Result

logger = logging.getLogger(__name__)

WOMBAT_PROMPT: Final = "a wombat holding a sign that says 'whoops!'"
NSFW_PHRASES: Final = (
    "flagged as sensitive",
    "nsfw",
    "inappropriate content",
    "explicit content",
    "adult content",
)


def detect_nsfw(message: object) -> bool:
    """True when a provider's error message means "refused as unsafe content".

    The original's rules, kept exactly: a leading ``NSFW``; one of several
    phrases in any case; or "sensitive" together with an ``(E00`` error code.
    """
    if not isinstance(message, str):
        return False
    lowered = message.lower()
    if message.startswith("NSFW"):
        return True
    if any(phrase in lowered for phrase in NSFW_PHRASES):
        return True
    return "sensitive" in lowered and "(E00" in message


async def invoke_with_policy(platform: Platform, call: Call) -> Result:
    """Invoke ``call`` on ``platform``; on a content refusal retry once with the safe prompt.

    The result's metadata is the platform's, plus ``attempts`` (counting the
    refused call) and, when the safe prompt was used, ``content_filtered: True``
    and ``content_filter_reason``; ``latency_ms`` then covers both calls.

    Raises:
        ContentFiltered: the model does not take text (so no safe prompt can
            stand in), or the safe prompt was refused too.
        PlatformError: anything else the platform raises.
    """
    started = trio.current_time()
    try:
        result = await platform.invoke(call)
    except ContentFiltered as refusal:
        model = call.model
        if model.input_type != "text":
            raise ContentFiltered(
                f"{refusal.message}; {model.id} takes {model.input_type} input, "
                "so no safe text prompt can stand in for it",
                platform=refusal.platform,
                model=refusal.model,
            ) from refusal
        logger.info("%s refused the content; retrying with the safe prompt", model.id)
        try:
            retry = await platform.invoke(dataclasses.replace(call, input=WOMBAT_PROMPT))
        except ContentFiltered as again:
            raise ContentFiltered(
                f"{refusal.message}; the safe prompt was refused too ({again.message})",
                platform=again.platform,
                model=again.model,
            ) from again
        metadata: dict[str, Any] = dict(retry.metadata)
        metadata["attempts"] = _attempts(retry) + 1
        metadata["latency_ms"] = round((trio.current_time() - started) * 1000)
        metadata["content_filtered"] = True
        metadata["content_filter_reason"] = refusal.message
        return Result(retry.output, metadata)
    metadata = dict(result.metadata)
    metadata["attempts"] = _attempts(result)
    return Result(result.output, metadata)


def _attempts(result: Result) -> int:
    attempts = result.metadata.get("attempts", 1)
    return attempts if isinstance(attempts, int) and attempts >= 1 else 1
