"""A fake Vestaboard read-write API (POST / with X-Vestaboard-Read-Write-Key)."""

from __future__ import annotations

import itertools

from quart import Response, request

from tests.fakes.server import FakeService, Recorded, json_response

KEY = "fake-vestaboard-key"


class FakeVestaboard(FakeService):
    """Accepts messages for the right key and remembers them in ``messages``."""

    def __init__(self) -> None:
        super().__init__("fake-vestaboard")
        self.key = KEY
        self.messages: list[str] = []
        self._ids = itertools.count(1)
        self.app.add_url_rule("/", view_func=self._post, methods=["POST"])

    def check_auth(self, recorded: Recorded) -> Response | None:
        if recorded.headers.get("x-vestaboard-read-write-key") != self.key:
            return json_response({"message": "Unauthorized"}, 401)
        return None

    async def _post(self) -> Response:
        body = await request.get_json(force=True, silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return json_response({"message": "Message must not be empty"}, 400)
        self.messages.append(text)
        number = next(self._ids)
        return json_response(
            {"status": "ok", "id": f"msg-{number:04d}", "created": 1_790_000_000_000 + number}
        )
