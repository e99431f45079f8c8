"""A webhook receiver on loopback: records every POST, answers 200 (or a scripted fault)."""

from __future__ import annotations

from quart import Response

from tests.fakes.server import FakeService


class FakeWebhook(FakeService):
    """Accepts JSON POSTs at ``/hooks/panic``."""

    def __init__(self) -> None:
        super().__init__("fake-webhook")
        self.app.add_url_rule("/hooks/panic", view_func=self._hook, methods=["POST"])

    async def _hook(self) -> Response:
        return Response('{"received": true}', status=200, content_type="application/json")

    @property
    def hook_url(self) -> str:
        return self.url + "/hooks/panic"
