"""A fake OpenAI API: chat completions with bearer auth and scriptable replies."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from quart import Response, request

from tests.fakes.server import FakeService, Recorded, json_response

TOKEN = "sk-fake-token"


def completion(
    content: str | None,
    *,
    model: str = "gpt-5-chat-latest",
    finish_reason: str = "stop",
    refusal: str | None = None,
    number: int = 1,
) -> dict[str, Any]:
    """A chat.completion object as OpenAI returns it."""
    return {
        "id": f"chatcmpl-fake{number}",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
    }


class FakeOpenAI(FakeService):
    """Speaks enough of api.openai.com/v1 for the OpenAI platform.

    Replies come from ``replies`` (a queue of full completion objects) when it
    is not empty, else ``completion(self.reply)``.
    """

    def __init__(self) -> None:
        super().__init__("fake-openai")
        self.token = TOKEN
        self.reply: str | None = "A creative continuation."
        self.replies: deque[dict[str, Any]] = deque()
        self._ids = itertools.count(1)
        self.app.add_url_rule("/chat/completions", view_func=self._complete, methods=["POST"])
        self.app.add_url_rule("/models", view_func=self._models, methods=["GET"])

    def check_auth(self, recorded: Recorded) -> Response | None:
        if recorded.headers.get("authorization") != f"Bearer {self.token}":
            supplied = recorded.headers.get("authorization", "").removeprefix("Bearer ")
            return json_response(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {supplied[:6]}****. You can "
                        "find your API key at https://platform.openai.com/account/api-keys.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
                401,
            )
        return None

    async def _models(self) -> Response:
        """The model list: what a token test asks for (free, needs the key)."""
        return json_response({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]})

    async def _complete(self) -> Response:
        body = await request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return json_response(
                {
                    "error": {
                        "message": "Missing required parameter: 'messages'.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "missing_required_parameter",
                    }
                },
                400,
            )
        number = next(self._ids)
        if self.replies:
            return json_response(self.replies.popleft())
        return json_response(completion(self.reply, model=str(body.get("model")), number=number))
