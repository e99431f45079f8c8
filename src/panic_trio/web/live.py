"""The live WebSocket ``/ws/networks/<id>``: events out, prompts in.

Server → client: ``status`` (on connect and on change), ``invocation`` (an
invocation changed state) and ``archived`` (only its URLs were rewritten).
Client → server: ``{"type": "start_run", "prompt": ...}``, allowed with a
valid ``?token=`` or the owner's (or an admin's) session; the reply is
``run_started``, ``locked_out`` or ``error``. A malformed frame gets an
``error`` reply and the connection stays up.

The socket has the shape of every socket (:mod:`panic_trio.web.sockets`: a
pusher, a reader, one slow-client policy, 1001 when the server goes away);
refusals are answered as everywhere (:mod:`panic_trio.web.refusals`). Events
reach the pusher through the engine's lossy subscription, so a slow browser
loses events (and is sent a fresh status) instead of slowing a run. Each
event is encoded once, however many sockets send it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit

import trio
from quart import Blueprint, Response, websocket

from panic_trio.domain import Event, Network, User
from panic_trio.errors import NotFound, PanicError
from panic_trio.events import Subscription
from panic_trio.web.auth import current_user, may_manage
from panic_trio.web.encoding import dumps, public_status_message, status_message
from panic_trio.web.prompters import prompter
from panic_trio.web.prompts import start_from_prompt
from panic_trio.web.refusals import refusal
from panic_trio.web.sockets import GOODBYE_SECONDS, Session, open_socket
from panic_trio.web.state import WebState, web_state

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS: Final = 8192
MAX_SHOWN_CHARS: Final = 60
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
    """One connected browser or script on one network: its pusher and its answers."""

    combined = False  # protocol 2: see __init__

    def __init__(
        self,
        state: WebState,
        network: Network,
        may_prompt: Permission,
        *,
        owner: bool,
        user: User | None = None,
    ):
        self.state = state
        self.network = network
        self.may_prompt = may_prompt
        self.owner = owner
        # Protocol 2 (``?v=2``): an invocation frame carries its status, so the
        # status change that came with it is not sent on its own.
        self.combined = websocket.args.get("v") == "2"
        if self.combined:
            self._encode = state.combined_encoder if owner else state.public_combined_encoder
        else:
            self._encode = state.network_encoder if owner else state.public_encoder
        self._status = status_message if self.owner else public_status_message
        self.prompter = prompter(
            network,
            user=user,
            token=websocket.args.get("token"),
            address=websocket.remote_addr,
            tokens=state.tokens,
        )

    async def push(
        self, session: Session, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Send the status, then every event, until the network is deleted."""
        panic = self.state.panic
        async with panic.watch(self.network.id) as events, trio.open_nursery() as nursery:
            await session.send(self._status(panic.status(self.network.id)))
            task_status.started()
            nursery.start_soon(self._close_when_deleted, session)
            await self.push_events(events, session)
            nursery.cancel_scope.cancel(reason="the network's events ended")

    async def _close_when_deleted(self, session: Session) -> None:
        await self.state.panic.network_deleted(self.network.id)
        with trio.move_on_after(GOODBYE_SECONDS):
            await websocket.close(NETWORK_DELETED, "network deleted")
        session.end("network deleted")

    async def push_events(self, events: Subscription[Event], session: Session) -> None:
        """Each event as one frame; after lost events, a fresh status to resynchronise."""
        encode = self._encode
        dropped = 0
        following: Event | None = None
        while True:
            if following is not None:
                event, following = following, None
            else:
                try:
                    event = await events.receive()
                except trio.EndOfChannel:
                    return
            if self.combined and event.kind == "status":
                # The runner publishes a status change and the invocation that
                # carries it back to back: both are already waiting here.
                following = events.poll()
                if (
                    following is not None
                    and following.kind == "invocation"
                    and following.status is event.status
                ):
                    event, following = following, None
            await session.send(encode(event))
            if events.dropped != dropped:  # we lost some: resynchronise with the status
                dropped = events.dropped
                await session.send(self._status(self.state.panic.status(self.network.id)))

    async def reply(self, frame: str | bytes) -> str:
        """The reply frame to one client frame."""
        return dumps(await self.answer(frame))

    async def answer(self, frame: str | bytes) -> dict[str, Any]:
        """The reply to one client frame (the socket's error boundary)."""
        try:
            return await self._answer(frame)
        except PanicError as exc:
            return refusal(exc, self.state.panic.now()).socket_reply()
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
        refused = await self.may_prompt(current)
        if refused is not None:
            return _error(refused)
        genesis = await start_from_prompt(self.network.id, prompt, who=self.prompter)
        return {"type": "run_started", "genesis": genesis.to_json()}


def _shown(value: object) -> str:
    """A client's value, quoted and cut short: errors never echo a whole frame back."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "message": message}


@bp.websocket("/ws/networks/<id:network_id>")
async def network_socket(network_id: int) -> Response | None:
    """Live events of one network, and prompts for those allowed."""
    state = web_state()
    try:
        network = await state.panic.get_network(network_id)
    except NotFound:
        return Response("no such network", 404)
    may_prompt, owner = await _permission(state, network)
    user = await current_user() if owner else None
    socket = LiveSocket(state, network, may_prompt, owner=owner, user=user)
    await open_socket(socket.push, socket.reply)
    return None
