"""Fixtures for the reliability suite: fault-injecting fakes and a connection-resetting proxy.

Everything listens on 127.0.0.1, port 0, inside the test's nursery. The
platform fakes are those of ``tests/fakes`` (``FakeService.fail`` scripts
500s, 429s, hangs and malformed bodies); :class:`ResetProxy` adds what a
Quart fake cannot do: reset TCP connections mid-request.
"""

from __future__ import annotations

import socket
import struct
from functools import partial

import trio

from panic_trio.domain import Invocation

GUARD = 20.0


class ResetProxy:
    """A TCP proxy to ``upstream`` that resets every connection while ``resetting``.

    The reset is a real RST (``SO_LINGER`` 0), sent as soon as a request
    arrives, so httpx sees the connection die mid-request.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.resetting = False
        self.resets = 0
        self.url = ""

    async def start(self, nursery: trio.Nursery) -> str:
        listeners: list[trio.SocketListener] = await nursery.start(
            partial(trio.serve_tcp, self._handle, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def _reset(self, client: trio.SocketStream) -> None:
        self.resets += 1
        client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async def _handle(self, client: trio.SocketStream) -> None:
        try:
            async with client:
                first = await client.receive_some()
                if not first or self.resetting:
                    self._reset(client)
                    return
                upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
                async with upstream, trio.open_nursery() as nursery:
                    await upstream.send_all(first)
                    nursery.start_soon(self._pipe, client, upstream, nursery.cancel_scope, True)
                    nursery.start_soon(self._pipe, upstream, client, nursery.cancel_scope, False)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

    async def _pipe(
        self,
        source: trio.SocketStream,
        sink: trio.SocketStream,
        scope: trio.CancelScope,
        from_client: bool,
    ) -> None:
        try:
            while chunk := await source.receive_some():
                if from_client and self.resetting:
                    self._reset(source)
                    break
                await sink.send_all(chunk)
        finally:
            scope.cancel()


def assert_settled(rows: list[Invocation]) -> None:
    """A run with no live step: contiguous, unique, nothing ``ready`` or ``invoking``."""
    assert [r.sequence_number for r in rows] == list(range(len(rows)))
    assert all(r.state in ("completed", "failed") for r in rows), [r.state for r in rows]
