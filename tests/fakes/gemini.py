"""A fake Gemini API (generateContent, key as query param) plus an audio file host."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from quart import Response, request

from tests.fakes.server import FakeService, Recorded, json_response

KEY = "fake-gemini-key"
AUDIO_BYTES = b"RIFF\x24\x00\x00\x00WAVEfmt fake audio bytes"


def reply(*texts: str, finish_reason: str = "STOP") -> dict[str, Any]:
    """A generateContent response whose first candidate has one part per text."""
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": t} for t in texts]},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20},
        "modelVersion": "gemini-2.5-flash",
    }


class FakeGemini(FakeService):
    """Speaks enough of generativelanguage.googleapis.com/v1beta for the Gemini platform.

    ``files[name] = (bytes, content_type)`` is served at ``/audio/<name>``
    without auth; ``response`` is what generateContent answers.
    """

    def __init__(self) -> None:
        super().__init__("fake-gemini")
        self.key = KEY
        self.response: dict[str, Any] = reply("A gentle piano melody over soft rain.")
        self.files: dict[str, tuple[bytes, str | None]] = {}
        self.app.add_url_rule("/models/<spec>", view_func=self._generate, methods=["POST"])
        self.app.add_url_rule("/audio/<name>", view_func=self._audio, methods=["GET"])
        self.app.add_url_rule("/models", view_func=self._models, methods=["GET"])

    def audio_url(self, name: str, content_type: str | None = "audio/wav") -> str:
        """Host ``AUDIO_BYTES`` at a URL, served with ``content_type``."""
        self.files[name] = (AUDIO_BYTES, content_type)
        return f"{self.url}/audio/{name}"

    def check_auth(self, recorded: Recorded) -> Response | None:
        if recorded.path.startswith("/audio/"):
            return None
        if recorded.query.get("key") != self.key:
            return json_response(
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT",
                    }
                },
                400,
            )
        return None

    async def _models(self) -> Response:
        """The model list: what a token test asks for (free, needs the key)."""
        return json_response({"models": [{"name": "models/gemini-2.5-flash"}]})

    async def _audio(self, name: str) -> Response:
        if name not in self.files:
            return Response(b"no such file", status=404, content_type="text/plain")
        data, content_type = self.files[name]
        response = Response(data, status=200)
        if content_type is None:
            del response.headers["content-type"]
        else:
            response.headers["content-type"] = content_type
        return response

    async def _generate(self, spec: str) -> Response:
        _model, _, method = spec.partition(":")
        if method != "generateContent":
            return json_response({"error": {"code": 404, "message": "Not found"}}, 404)
        body = await request.get_json(force=True, silent=True)
        problem = _problem(body)
        if problem:
            return json_response(
                {"error": {"code": 400, "message": problem, "status": "INVALID_ARGUMENT"}}, 400
            )
        return json_response(self.response)


def _problem(body: Any) -> str | None:
    """What Gemini would object to in a request body, or ``None``."""
    contents = body.get("contents") if isinstance(body, dict) else None
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for content in contents:
        for part in content.get("parts", []):
            inline = part.get("inline_data")
            if inline is None:
                continue
            try:
                base64.b64decode(inline["data"], validate=True)
            except (binascii.Error, KeyError, TypeError):
                return "Invalid value at 'contents[0].parts[0].inline_data.data'"
            if not str(inline.get("mime_type", "")).startswith("audio/"):
                return "Unsupported MIME type"
    return None
