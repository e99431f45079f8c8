"""The live WebSocket ``/ws/networks/<id>``: events out, prompts in.

Server → client: ``status`` (on connect and on change), ``invocation`` (an
invocation changed state) and ``archived`` (only its URLs were rewritten).
Client → server: ``{"type": "start_run", "prompt": ...}``, allowed with a
valid ``?token=`` or the owner's (or an admin's) session; the reply is
``run_started``, ``locked_out`` or ``error``. A malformed frame gets an
``error`` reply and the connection stays up.

Each connection runs one reader and one pusher task; :func:`open_socket`
says goodbye with 1001 when the server goes away. Events reach the pusher through
the engine's lossy subscription, so a slow browser loses events (and is sent
a fresh status) instead of slowing a run. Each event is encoded once, however
many sockets send it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit

import trio
from quart import Blueprint, Response, websocket

from panic_trio.domain import Event, Network, iso
from panic_trio.errors import InvalidInput, LockedOut, NotFound, PanicError, SpendingCapReached
from panic_trio.events import Subscription
from panic_trio.web.auth import current_user, may_manage
from panic_trio.web.encoding import dumps, public_status_message, status_message
from panic_trio.web.ratelimit import whole_seconds
from panic_trio.web.state import WebState, web_state

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS: Final = 8192
MAX_SHOWN_CHARS: Final = 60
SLOW_CLIENT_SECONDS: Final = 10.0
GOODBYE_SECONDS: Final = 2.0
NETWORK_DELETED: Final = 4404  # close code: the network is gone, do not reconnect

bp = Blueprint("live", __name__)


def same_origin() -> bool:
    """True unless the handshake came from a page on another site."""
    origin = websocket.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == websocket.host


Permission = Callable[[Network], Awaitable[str | None]]


async def _permission(state: WebState, network: Network) -> tuple[Permission, bool]:
    """Who may prompt on this socket (a check run at every ``start_run``), and is it the owner.

    The owner (or an admin) may prompt while their session lasts, and is
    sent the reasons a run failed, which the public never is. The check is
    given the network as read at that moment and reads the user again, so a
    token revoked, or a session ended, while the socket is open is refused
    at once.
    """
    user = await current_user() if same_origin() else None
    token = websocket.args.get("token")
    if user is not None and may_manage(user, network):
        signed_in = user

        async def check_session(_current: Network) -> str | None:
            try:
                fresh = await state.panic.get_user(signed_in.id)
            except NotFound:
                fresh = None
            if fresh is None or fresh.session_version != signed_in.session_version:
                return "you were signed out: sign in again to prompt"
            return None

        return check_session, True

    async def check_token(current: Network) -> str | None:
        await trio.lowlevel.checkpoint()
        result = state.tokens.check(token, current)
        if result == "ok":
            return None
        if token is None:
            return "this screen is read-only: open the terminal from a QR code to prompt"
        return f"your QR code is {result.replace('_', ' ')}: scan a fresh one"

    return check_token, False


class LiveSocket:
    """One connected browser or script on one network."""

    def __init__(self, state: WebState, network: Network, may_prompt: Permission, *, owner: bool):
        self.state = state
        self.network = network
        self.may_prompt = may_prompt
        self.owner = owner
        self._encode = state.network_encoder if self.owner else state.public_encoder
        self._status = status_message if self.owner else public_status_message
        self.client_key = f"ip:{websocket.remote_addr}"
        self._send_lock = trio.Lock()

    async def send(self, text: str) -> None:
        """Send one frame (the reader and the pusher share the socket).

        The lock is taken without a checkpoint when free, which it nearly
        always is: fan-out sends a frame per viewer per event, and a
        checkpoint each is a measurable share of the cost (docs/benchmarks.md).
        """
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()
        try:
            await websocket.send(text)
        finally:
            self._send_lock.release()

    async def serve(self) -> None:
        """Run until the client leaves or the server goes away."""
        panic = self.state.panic
        async with panic.watch(self.network.id) as events, trio.open_nursery() as nursery:
            await self.send(self._status(panic.status(self.network.id)))
            nursery.start_soon(self._close_when_deleted, nursery.cancel_scope)
            nursery.start_soon(self._read)
            nursery.start_soon(self._push, events, nursery.cancel_scope)

    async def _close_when_deleted(self, scope: trio.CancelScope) -> None:
        await self.state.panic.network_deleted(self.network.id)
        with trio.move_on_after(GOODBYE_SECONDS):
            await websocket.close(NETWORK_DELETED, "network deleted")
        scope.cancel(reason="network deleted")

    async def _push(self, events: Subscription[Event], scope: trio.CancelScope) -> None:
        encode = self._encode
        dropped = 0
        # One scope for the socket's life, its deadline armed only while a frame
        # is being sent: cheaper than a new scope per frame.
        with trio.CancelScope() as timer:
            async for event in events:
                messages = [encode(event)]
                if events.dropped != dropped:  # we lost some: resynchronise with the status
                    dropped = events.dropped
                    messages.append(self._status(self.state.panic.status(self.network.id)))
                for text in messages:
                    timer.deadline = trio.current_time() + SLOW_CLIENT_SECONDS
                    await self.send(text)
                    timer.deadline = math.inf
        if timer.cancelled_caught:
            logger.info("network %s: dropping a client too slow to keep up", self.network.id)
            scope.cancel(reason="client too slow to keep up")

    async def _read(self) -> None:
        while True:
            frame = await websocket.receive()
            reply = await self.answer(frame)
            await self.send(dumps(reply))

    async def answer(self, frame: str | bytes) -> dict[str, Any]:
        """The reply to one client frame (the socket's error boundary)."""
        try:
            return await self._answer(frame)
        except PanicError as exc:
            return _error(str(exc))
        except Exception:
            logger.exception("network %s: error answering a frame", self.network.id)
            return _error("internal error; the run was not changed")

    async def _answer(self, frame: str | bytes) -> dict[str, Any]:
        if not isinstance(frame, str):
            return _error("malformed frame: send JSON text, not binary")
        if len(frame) > MAX_FRAME_CHARS:
            return _error(f"malformed frame: longer than {MAX_FRAME_CHARS} characters")
        try:
            message = json.loads(frame)
        except ValueError:
            return _error("malformed frame: not valid JSON")
        if not isinstance(message, dict):
            return _error("malformed frame: expected a JSON object")
        if message.get("type") != "start_run":
            return _error(f"unknown message type {_shown(message.get('type'))}; expected start_run")
        unknown = sorted(set(message) - {"type", "prompt"}, key=str)
        if unknown:
            return _error(f"unknown field {_shown(unknown[0])} in start_run (known: prompt)")
        prompt = message.get("prompt")
        if not isinstance(prompt, str):
            return _error('start_run needs a "prompt" string')
        current = await self.state.panic.get_network(self.network.id)
        if current.created_at != self.network.created_at:
            return _error("this network was deleted")
        refusal = await self.may_prompt(current)
        if refusal is not None:
            return _error(refusal)
        wait = self.state.prompt_limiter.hit(self.client_key)
        if wait > 0:
            return _error(f"too many prompts: try again in {whole_seconds(wait)} s")
        try:
            genesis = await self.state.panic.start_run(self.network.id, prompt)
        except LockedOut as exc:
            return {
                "type": "locked_out",
                "retry_after": whole_seconds(exc.retry_after),
                "genesis": exc.genesis.to_json(),
            }
        except SpendingCapReached as exc:
            return {
                "type": "spending_cap",
                "message": exc.message,
                "scope": exc.scope,
                "resumes_at": iso(exc.resumes_at),
            }
        except (InvalidInput, NotFound) as exc:
            return _error(str(exc))
        return {"type": "run_started", "genesis": genesis.to_json()}


def _shown(value: object) -> str:
    """A client's value, quoted and cut short: errors never echo a whole frame back."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "message": message}


async def open_socket(
    serve: Callable[[], Awaitable[None]],
) -> None:
    """Accept, count and serve one socket, and say goodbye when the server leaves.

    The goodbye is said here, once for every kind of socket: ``serve`` is
    cancelled first, so nothing of it can send after the close frame.
    """
    state = web_state()
    if state.going_away.is_set():
        await websocket.close(1001, "server shutting down")
        return
    await websocket.accept()
    with state.sockets.track():
        async with trio.open_nursery() as nursery:

            async def leave_when_going_away() -> None:
                await state.going_away.wait()
                nursery.cancel_scope.cancel(reason="server shutting down")

            nursery.start_soon(leave_when_going_away)
            await serve()
            nursery.cancel_scope.cancel(reason="the socket was closed")
        if state.going_away.is_set():
            with trio.move_on_after(GOODBYE_SECONDS):
                await websocket.close(1001, "server shutting down")


@bp.websocket("/ws/networks/<id:network_id>")
async def network_socket(network_id: int) -> Response | None:
    """Live events of one network, and prompts for those allowed."""
    state = web_state()
    try:
        network = await state.panic.get_network(network_id)
    except NotFound:
        return Response("no such network", 404)
    may_prompt, owner = await _permission(state, network)
    socket = LiveSocket(state, network, may_prompt, owner=owner)
    await open_socket(socket.serve)
    return None
