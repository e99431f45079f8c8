"""Gemini ``generateContent`` for the audio→text models.

The audio is downloaded and sent inline as base64 with its real MIME type,
taken from the response's ``Content-Type`` or else the URL's extension (the
original labelled everything ``audio/ogg``, though archived audio is MP3).
The reply's text is the concatenation of every part of the first candidate
(the original accepted only single-part replies).
"""

from __future__ import annotations

import base64
import posixpath
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import httpx

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ContentFiltered, PlatformRejected
from panic_trio.models.platform_records import RECORDS
from panic_trio.platforms.base import Call, Result
from panic_trio.platforms.http import (
    CallMeter,
    RetryPolicy,
    TransientError,
    base_url,
    check_response,
    is_transient_status,
    json_object,
    map_httpx_errors,
    require_token,
    retrying,
    unexpected_output,
)
from panic_trio.settings import Settings

PLATFORM: Final = "gemini"
RECORD: Final = RECORDS[PLATFORM]
AUDIO_PROMPT: Final = (
    "Describe this audio. The description will be fed into a text-to-audio generative model,\n"
    "and your aim is to have that model reproduce the original audio as closely as possible.\n"
    "Never include any specific artist or song names in the description.\n"
    "\n"
    "Be concise - less than 100 words in total.\n"
)
# Inline data must keep the whole request under 20 MB; base64 grows it by 4/3.
MAX_AUDIO_BYTES: Final = 14 * 1024 * 1024
MIME_BY_EXTENSION: Final = {
    ".wav": "audio/wav",
    ".mp3": "audio/mp3",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".flac": "audio/flac",
}
# Content-Type spellings mapped onto the names Gemini documents.
MIME_ALIASES: Final = {
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mpeg": "audio/mp3",
    "audio/mpeg3": "audio/mp3",
    "audio/x-mp3": "audio/mp3",
    "audio/x-flac": "audio/flac",
    "application/ogg": "audio/ogg",
    "audio/vorbis": "audio/ogg",
    "audio/opus": "audio/ogg",
}
BLOCKED_FINISH_REASONS: Final = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY"}
)


def audio_mime_type(url: str, content_type: str | None) -> str | None:
    """The audio's MIME type from its ``Content-Type``, else its URL extension."""
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        mime = MIME_ALIASES.get(mime, mime)
        if mime.startswith("audio/"):
            return mime
    extension = posixpath.splitext(urllib.parse.urlsplit(url).path)[1].lower()
    return MIME_BY_EXTENSION.get(extension)


def generate_request(audio: bytes, mime_type: str, prompt: str = AUDIO_PROMPT) -> dict[str, Any]:
    """The JSON body of a ``generateContent`` call describing ``audio``."""
    return {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {
                        "inline_data": {
                            "mime_type": mime_type,
                            "data": base64.b64encode(audio).decode("ascii"),
                        }
                    },
                    {"text": prompt},
                ],
            }
        ]
    }


class GeminiPlatform:
    """Runs catalog models on Gemini's ``generateContent`` (API key as ``key`` query param).

    The injected ``httpx.AsyncClient`` also downloads the audio; it is shared
    and not closed here.
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
        local_file: Callable[[str], Path | None] | None = None,
        files: ThreadSeam | None = None,
    ) -> None:
        self._client = client
        self._base = base_url(settings, RECORD)
        self._retry = retry or RetryPolicy.from_settings(settings)
        # This server's own media (dummy outputs, local archive) is read from
        # disk: no web server need answer at the public URL (embedding API).
        self._local_file = local_file
        self._files = files or ThreadSeam("gemini-files", 2)

    async def invoke(self, call: Call) -> Result:
        """Describe the audio at the URL ``call.input`` and return the text.

        Raises:
            ContentFiltered: Gemini blocked the prompt or the reply.
            PlatformRejected: the audio could not be fetched or typed, a refused
                request, or a malformed or blank reply.
            PlatformUnavailable: transient errors outlasted the retries.
            MissingToken: the call carries no API key.
        """
        model_id = call.model.id
        token = require_token(call.token, PLATFORM, model_id)
        meter = CallMeter()
        audio, mime_type = await self._fetch_audio(call.input, model_id, meter)
        body = generate_request(audio, mime_type)
        url = f"{self._base}/models/{call.model.path}:generateContent"

        async def once() -> dict[str, Any]:
            # The key travels as a query param; never echo the URL in messages.
            with map_httpx_errors(PLATFORM, model_id):
                response = await self._client.post(url, params={"key": token}, json=body)
            check_response(response, PLATFORM, model_id)
            return json_object(response, PLATFORM, model_id)

        reply = await retrying(
            once, policy=self._retry, platform=PLATFORM, model=model_id, meter=meter
        )
        text = parse_reply(reply, model_id)
        return Result(text, {**meter.metadata(), "usage": reply_usage(reply)})

    async def _fetch_audio(self, url: str, model_id: str, meter: CallMeter) -> tuple[bytes, str]:
        target = f"the audio at {url}"
        path = self._local_file(url) if self._local_file else None
        if path is not None:
            try:
                data = await self._files.run(path.read_bytes)
            except OSError as exc:
                raise PlatformRejected(
                    f"could not read {target}: {exc.strerror}", platform=PLATFORM, model=model_id
                ) from None
            mime_type = audio_mime_type(url, None)
            if mime_type is None:
                raise PlatformRejected(
                    f"cannot tell the audio format of {url} (expected wav, mp3, ogg or flac)",
                    platform=PLATFORM,
                    model=model_id,
                )
            return data, mime_type

        async def once() -> httpx.Response:
            with map_httpx_errors(PLATFORM, model_id, target=target):
                response = await self._client.get(url, follow_redirects=True)
            if is_transient_status(response.status_code):
                raise TransientError(
                    f"fetching {target} failed ({response.status_code})",
                    status=response.status_code,
                    platform=PLATFORM,
                    model=model_id,
                )
            if not response.is_success:
                raise PlatformRejected(
                    f"could not fetch {target} ({response.status_code})",
                    status=response.status_code,
                    platform=PLATFORM,
                    model=model_id,
                )
            return response

        if not url.startswith(("http://", "https://")):
            raise PlatformRejected(
                f"{model_id} needs an audio URL as input, got {url[:80]!r}",
                platform=PLATFORM,
                model=model_id,
            )
        response = await retrying(
            once, policy=self._retry, platform=PLATFORM, model=model_id, meter=meter
        )
        mime_type = audio_mime_type(url, response.headers.get("content-type"))
        if mime_type is None:
            raise PlatformRejected(
                f"cannot tell the audio format of {url} (expected wav, mp3, ogg or flac)",
                platform=PLATFORM,
                model=model_id,
            )
        if len(response.content) > MAX_AUDIO_BYTES:
            raise PlatformRejected(
                f"{target} is {len(response.content) // 2**20} MiB, too large to send inline",
                platform=PLATFORM,
                model=model_id,
            )
        return response.content, mime_type


def reply_usage(reply: dict[str, Any]) -> dict[str, int]:
    """The billed tokens in ``usageMetadata``: thinking tokens are billed as output."""
    meta = reply.get("usageMetadata")
    if not isinstance(meta, dict):
        return {}

    def count(key: str) -> int | None:
        value = meta.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    usage: dict[str, int] = {}
    prompt = count("promptTokenCount")
    if prompt is not None:
        usage["input_tokens"] = prompt
    output = count("candidatesTokenCount")
    if output is not None:
        usage["output_tokens"] = output + (count("thoughtsTokenCount") or 0)
    return usage


def parse_reply(reply: dict[str, Any], model_id: str) -> str:
    """The text of every part of the first candidate, joined.

    Raises:
        ContentFiltered: the prompt or the candidate was blocked for safety.
        PlatformRejected: no candidate, an unknown shape, or a blank reply.
    """
    feedback = reply.get("promptFeedback")
    block_reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    candidates = reply.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
        if block_reason:
            raise ContentFiltered(
                f"Gemini blocked the prompt ({block_reason})", platform=PLATFORM, model=model_id
            )
        raise unexpected_output(PLATFORM, model_id, "no candidates in the reply")
    candidate: dict[str, Any] = candidates[0]
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if parts is not None and not isinstance(parts, list):
        raise unexpected_output(PLATFORM, model_id, "the candidate's parts are not a list")
    texts = [
        part["text"]
        for part in parts or []
        if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")
    ]
    text = "".join(texts).strip()
    finish_reason = candidate.get("finishReason")
    if not text and finish_reason in BLOCKED_FINISH_REASONS:
        raise ContentFiltered(
            f"Gemini blocked the reply ({finish_reason})", platform=PLATFORM, model=model_id
        )
    if not text:
        raise PlatformRejected(
            f"Gemini returned an empty reply for {model_id} (finish reason: {finish_reason})",
            platform=PLATFORM,
            model=model_id,
        )
    return text
