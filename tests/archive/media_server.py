"""A tiny HTTP/1.1 server on loopback that serves fixed bytes, optionally held behind a gate.

Raw Trio rather than Quart: the tests need exact control over status,
headers and timing (a gate makes a download slow *deterministically*).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import partial

import trio


@dataclass
class Served:
    """What one path answers. ``gate``: the body is sent only once it is set."""

    body: bytes
    content_type: str | None = "application/octet-stream"
    status: int = 200
    gate: trio.Event | None = None
    send_length: bool = True


class MediaServer:
    """Serves :attr:`routes`; :meth:`requested` tells when a path was asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, Served] = {}
        self.url = ""
        self._requested: defaultdict[str, trio.Event] = defaultdict(trio.Event)

    async def start(self, nursery: trio.Nursery) -> str:
        listeners = await nursery.start(partial(trio.serve_tcp, self._handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def serve(self, path: str, served: Served) -> str:
        self.routes[path] = served
        return self.url + path

    def requested(self, path: str) -> trio.Event:
        return self._requested[path]

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode()
            self._requested[path].set()
            served = self.routes.get(path, Served(b"not found", "text/plain", 404))
            if served.gate is not None:
                await served.gate.wait()
            lines = [f"HTTP/1.1 {served.status} Whatever", "connection: close"]
            if served.content_type is not None:
                lines.append(f"content-type: {served.content_type}")
            if served.send_length:
                lines.append(f"content-length: {len(served.body)}")
            await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode() + served.body)
        except trio.BrokenResourceError:
            pass
        finally:
            await stream.aclose()
