"""Per-client connection caps: one address cannot take every file descriptor.

The probe: 1,000 anonymous sockets from one client, with the open-file limit
at a common 1024, made the server run out of descriptors, and a run failed.
:class:`ClientLimits` wraps the ASGI app and refuses, at once and cheaply,
a WebSocket beyond ``sockets`` open ones, or a request beyond ``requests`` in
progress, from the same address: a refused WebSocket gets HTTP 429 before
the upgrade, a refused request 429 with ``Connection: close``, so its
descriptor is freed at once. Counts are per process and in memory.

It also makes sure a connection that must close does close. Under
Quart-Trio, the request's nursery is cancelled as soon as the response is
sent, which cancelled Hypercorn's close of a ``Connection: close``
connection (a 408 for a slow body, a client's own ``Connection: close``)
midway: the connection stayed open as long as the client kept it busy. The
last ``send`` of a response is shielded (and bounded), as Hypercorn already
shields its own writes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 5
FINISH_SECONDS: Final = 10.0  # the most a response's last write (and close) may take
_REFUSED: Final = b"too many connections from your address; try again shortly\n"
_HEADERS: Final = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    (b"connection", b"close"),
    (b"content-length", str(len(_REFUSED)).encode()),
]


class ClientLimits:
    """ASGI middleware: at most ``sockets`` WebSockets and ``requests`` requests per address."""

    def __init__(self, app: Any, *, sockets: int, requests: int) -> None:
        if sockets < 1 or requests < 1:
            raise ValueError("connection caps must be at least 1")
        self.app = app
        self.limits = {"websocket": sockets, "http": requests}
        self.open: dict[str, Counter[str]] = {"websocket": Counter(), "http": Counter()}
        self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Serve the connection, or refuse it if its address is at its cap."""
        kind = scope["type"]
        if kind not in self.open:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        counts = self.open[kind]
        if counts[address] >= self.limits[kind]:
            self.refused += 1
            if self.refused % 100 == 1:
                logger.warning("refusing %s connections from %s: over the cap", kind, address)
            await _refuse(kind, receive, send)
            return
        counts[address] += 1
        try:
            await self.app(scope, receive, _finishing(send) if kind == "http" else send)
        finally:
            counts[address] -= 1
            if counts[address] <= 0:
                del counts[address]


def _finishing(send: Send) -> Send:
    """``send``, with the response's last message sent even if the caller is cancelled."""

    async def send_to_the_end(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            with trio.CancelScope(shield=True), trio.move_on_after(FINISH_SECONDS):
                await send(message)
            return
        await send(message)

    return send_to_the_end


async def _refuse(kind: str, receive: Receive, send: Send) -> None:
    prefix = "websocket.http" if kind == "websocket" else "http"
    if kind == "websocket":
        await receive()  # websocket.connect; the answer is a plain HTTP response
    await send({"type": f"{prefix}.response.start", "status": 429, "headers": _HEADERS})
    await send({"type": f"{prefix}.response.body", "body": _REFUSED})
