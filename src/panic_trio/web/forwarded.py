"""Behind a reverse proxy: the visitor's address and scheme, from the proxy's headers.

Every connection then comes from the proxy, so the per-address caps, the
sign-in and prompt limits and the prompt log would count every visitor as
one. With ``PANIC_PROXY_HOPS=N`` (the proxies in front, usually 1) the
address is the N-th from the right of ``X-Forwarded-For`` (the one the
nearest trusted proxy saw; what a client wrote further left is not
believed) and the scheme comes from ``X-Forwarded-Proto``. Hypercorn's
``ProxyFixMiddleware`` would do the same but sets a WebSocket's scheme to
``http``, which Quart refuses (400).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from panic_trio.web.limits import Receive, Send

_SOCKET_SCHEMES: Final = {"http": "ws", "https": "wss"}


def _trusted(name: bytes, headers: Iterable[tuple[bytes, bytes]], hops: int) -> str | None:
    """The value the ``hops``-th proxy from here wrote into header ``name``, if any."""
    values = [
        part.strip().decode("latin-1")
        for key, value in headers
        if key.lower() == name
        for part in value.split(b",")
    ]
    return values[-hops] if len(values) >= hops else None


class Forwarded:
    """ASGI middleware: ``client`` and ``scheme`` as the trusted proxy saw them."""

    def __init__(self, app: Any, *, hops: int) -> None:
        if hops < 1:
            raise ValueError("hops must be at least 1")
        self.app = app
        self.hops = hops

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Pass the connection on, with the visitor's address and scheme."""
        kind = scope["type"]
        if kind in ("http", "websocket"):
            scope = dict(scope)
            client = _trusted(b"x-forwarded-for", scope["headers"], self.hops)
            if client:
                scope["client"] = (client, 0)
            proto = _trusted(b"x-forwarded-proto", scope["headers"], self.hops)
            if proto in _SOCKET_SCHEMES:
                scope["scheme"] = proto if kind == "http" else _SOCKET_SCHEMES[proto]
        await self.app(scope, receive, send)
