"""The one shape of every WebSocket: a pusher, a reader, one slow-client policy, a goodbye.

Each socket is :func:`open_socket` around two callables: ``push`` sends what
the server has to say (it is started first and says when it has subscribed
and greeted, so no reply can overtake the greeting), and ``answer`` turns
each client frame into a reply (without one, frames are read and ignored,
so a close is noticed). Both send through one :class:`Session`, which holds
the socket's only send lock and its only slow-client rule: a client that
cannot take a frame for ``SLOW_CLIENT_SECONDS`` is dropped, so it never
holds back a run or another viewer. When the server goes away every socket
is closed with 1001, here and nowhere else.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, cast

import trio
from quart import websocket

from panic_trio.web.state import web_state

logger = logging.getLogger(__name__)

SLOW_CLIENT_SECONDS: Final = 10.0
GOODBYE_SECONDS: Final = 2.0
GOING_AWAY: Final = 1001


class Push(Protocol):
    """The server side of a socket: send until done; ``started()`` once greeted."""

    def __call__(  # noqa: D102 (the class says it)
        self, session: Session, *, task_status: trio.TaskStatus[None]
    ) -> Awaitable[None]: ...


Answer = Callable[[str | bytes], Awaitable[str | None]]
Send = Callable[[str], Awaitable[None]]
Receive = Callable[[], Awaitable[str | bytes]]
AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]


RAW_SEND: Final = "panic.raw_send"  # the server's ASGI send, in a WebSocket's scope


def with_raw_send(app: Any) -> Any:
    """ASGI middleware: a WebSocket's scope carries the server's own ``send``.

    A frame sent through it skips Quart's per-message wrapper (a context
    lookup, an ``accept`` check that builds headers, a signal), which is
    most of Quart's share of a fan-out frame (docs/benchmarks.md).
    """

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, RAW_SEND: send}
        await app(scope, receive, send)

    return asgi


def _socket_send() -> Send:
    """The cheapest way to send a text frame on the current (accepted) socket."""
    raw = cast(AsgiSend | None, websocket.scope.get(RAW_SEND))
    if raw is None:  # a test client: no ASGI server underneath
        return _quart_send

    async def send(text: str) -> None:
        await raw({"type": "websocket.send", "bytes": None, "text": text})

    return send


async def _quart_send(text: str) -> None:
    await websocket.send(text)


async def _quart_receive() -> str | bytes:
    return await websocket.receive()


class Session:
    """One accepted socket's sending side: one lock, one slow-client deadline, one end.

    The deadline lives on one cancel scope around the whole socket and is
    armed only while a frame is being sent: fan-out sends a frame per viewer
    per event, and a fresh scope (or a checkpoint for a free lock) per frame
    is a measurable share of its cost (docs/benchmarks.md).
    """

    def __init__(self, send: Send | None = None, receive: Receive | None = None) -> None:
        self._send = send if send is not None else _socket_send()
        self._receive = receive if receive is not None else _quart_receive
        self._lock = trio.Lock()
        self.guard = trio.CancelScope()  # the slow-client deadline
        self.scope = trio.CancelScope()  # the socket's life: end() cancels it

    async def send(self, text: str) -> None:
        """Send one frame; a client that takes none for ``SLOW_CLIENT_SECONDS`` is dropped."""
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()
        try:
            self.guard.deadline = trio.current_time() + SLOW_CLIENT_SECONDS
            await self._send(text)
        finally:
            self.guard.deadline = math.inf
            self._lock.release()

    def end(self, reason: str) -> None:
        """End the socket (its pusher and reader) for ``reason``."""
        self.scope.cancel(reason=reason)

    @property
    def dropped(self) -> bool:
        """True if the client was dropped for being too slow."""
        return self.guard.cancelled_caught

    async def run(self, push: Push, answer: Answer | None = None) -> None:
        """Push and read until either ends, the client leaves or is too slow."""
        with self.guard, self.scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(push, self)
                nursery.start_soon(self._read, answer)
                await trio.sleep_forever()
        if self.dropped:
            logger.info("dropping a client too slow to keep up")

    async def _read(self, answer: Answer | None) -> None:
        while True:
            frame = await self._receive()
            if answer is None:
                continue
            reply = await answer(frame)
            if reply is not None:
                await self.send(reply)


async def open_socket(push: Push, answer: Answer | None = None) -> None:
    """Accept, count and serve one socket, and say goodbye when the server leaves.

    The pusher ending ends the socket, as does the server going away; the
    goodbye (1001) is sent after both tasks are gone, so nothing can follow
    the close frame.
    """
    state = web_state()
    if state.going_away.is_set():
        await websocket.close(GOING_AWAY, "server shutting down")
        return
    await websocket.accept()
    session = Session()

    async def pushed(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        await push(session, task_status=task_status)
        session.end("the server had nothing more to send")

    with state.sockets.track():
        async with trio.open_nursery() as nursery:

            async def leave_when_going_away() -> None:
                await state.going_away.wait()
                session.end("server shutting down")

            nursery.start_soon(leave_when_going_away)
            await session.run(pushed, answer)
            nursery.cancel_scope.cancel(reason="the socket was closed")
        if state.going_away.is_set():
            with trio.move_on_after(GOODBYE_SECONDS):
                await websocket.close(GOING_AWAY, "server shutting down")
