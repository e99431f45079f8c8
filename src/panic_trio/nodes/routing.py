"""Requests for a network run by another process: sent over ``NOTIFY``, answered the same way.

Each process listens on its own channel (:func:`inbox`). A request names the
asker's node, so the owner answers on the asker's channel; the asker waits at
most ``timeout`` seconds and then raises
:class:`~panic_trio.errors.OwnerUnreachable` (the web says 503 with
``Retry-After``). Errors travel as data and are raised again on the asking
side with the same type and fields, so a ``LockedOut`` carries the owner's
exact ``retry_after``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

import trio

from panic_trio.domain import Invocation
from panic_trio.errors import (
    InvalidInput,
    InvalidNetwork,
    InvalidPrompt,
    LockedOut,
    NotFound,
    OwnerUnreachable,
    PanicError,
    ShuttingDown,
    SpendingCapReached,
)
from panic_trio.nodes.listener import channel, notify, payloads
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS: Final = 5.0
Serve = Callable[[dict[str, Any]], Awaitable[Any]]


def inbox(node: str) -> str:
    """The channel a node listens on for requests and replies."""
    return channel("node", node)


def error_to_json(exc: PanicError) -> dict[str, Any]:
    """An error as data, for the asking process to raise again."""
    if isinstance(exc, LockedOut):
        return {
            "type": "locked_out",
            "genesis": exc.genesis.to_json(),
            "retry_after": exc.retry_after,
        }
    if isinstance(exc, SpendingCapReached):
        resumes = None if exc.resumes_at is None else exc.resumes_at.isoformat()
        return {
            "type": "spending_cap", "message": exc.message, "scope": exc.scope,
            "limit": exc.limit, "resumes_at": resumes,
        }  # fmt: skip
    if isinstance(exc, InvalidInput):
        kind = {InvalidPrompt: "invalid_prompt", InvalidNetwork: "invalid_network"}
        return {
            "type": kind.get(type(exc), "invalid_input"),
            "message": exc.message,
            "field": exc.field,
        }
    if isinstance(exc, NotFound):
        return {"type": "not_found", "message": str(exc)}
    if isinstance(exc, ShuttingDown):
        return {"type": "shutting_down", "message": str(exc)}
    retry = exc.retry_after if isinstance(exc, OwnerUnreachable) else 1.0
    return {"type": "unreachable", "message": str(exc), "retry_after": retry}


def error_from_json(data: dict[str, Any], owner: str) -> PanicError:
    """The error :func:`error_to_json` described."""
    kind = data.get("type")
    message = str(data.get("message", ""))
    if kind == "locked_out":
        genesis = Invocation.from_json(data["genesis"])
        return LockedOut(genesis, float(data["retry_after"]))
    if kind == "spending_cap":
        resumes = data.get("resumes_at")
        return SpendingCapReached(
            message, scope=str(data["scope"]), limit=float(data["limit"]),
            resumes_at=None if resumes is None else datetime.fromisoformat(resumes),
        )  # fmt: skip
    if kind in ("invalid_prompt", "invalid_network", "invalid_input"):
        cls = {"invalid_prompt": InvalidPrompt, "invalid_network": InvalidNetwork}
        return cls.get(str(kind), InvalidInput)(message, field=data.get("field"))
    if kind == "not_found":
        return NotFound(message)
    if kind == "shutting_down":
        return ShuttingDown(message)
    return OwnerUnreachable(message, owner=owner, retry_after=float(data.get("retry_after", 1.0)))


class Router:
    """Asks other processes, and answers their requests with ``serve``."""

    def __init__(self, store: Store, node: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.node = node
        self._store = store
        self._timeout = timeout
        self._waiting: dict[str, tuple[trio.Event, list[dict[str, Any]]]] = {}
        self._nursery: trio.Nursery | None = None
        self._serve: Serve | None = None

    def attach(self, nursery: trio.Nursery, serve: Serve) -> None:
        """Answer requests from now on, each in its own task in ``nursery``."""
        self._nursery = nursery
        self._serve = serve

    async def ask(self, owner: str, request: dict[str, Any]) -> Any:
        """Send ``request`` to ``owner`` and return its answer (or raise its error)."""
        key = uuid.uuid4().hex
        arrived = trio.Event()
        box: list[dict[str, Any]] = []
        self._waiting[key] = (arrived, box)
        try:
            message = {**request, "id": key, "from": self.node}
            await self._store.control_write(notify, inbox(owner), payloads(message))
            with trio.move_on_after(self._timeout):
                await arrived.wait()
        finally:
            del self._waiting[key]
        if not box:
            raise OwnerUnreachable(
                f"the process running this network ({owner}) did not answer within "
                f"{self._timeout:g} s: try again in a moment",
                owner=owner,
                retry_after=self._timeout,
            )
        reply = box[0]
        if "error" in reply:
            raise error_from_json(reply["error"], owner)
        return reply.get("result")

    def receive(self, message: dict[str, Any]) -> None:
        """A message on this node's channel: a reply to match, or a request to serve."""
        if "reply_to" in message:
            waiting = self._waiting.get(str(message["reply_to"]))
            if waiting is not None:
                waiting[1].append(message)
                waiting[0].set()
            return
        if self._nursery is None or "from" not in message:
            return
        self._nursery.start_soon(self._answer, message)

    async def _answer(self, message: dict[str, Any]) -> None:
        assert self._serve is not None
        reply: dict[str, Any] = {"reply_to": message.get("id")}
        try:
            reply["result"] = await self._serve(message)
        except PanicError as exc:
            reply["error"] = error_to_json(exc)
        except Exception:
            logger.exception("answering a request from %s failed", message.get("from"))
            reply["error"] = {"type": "unreachable", "message": "the owner failed to answer"}
        try:
            await self._store.control_write(notify, inbox(str(message["from"])), payloads(reply))
        except PanicError as exc:
            logger.warning("could not answer %s: %s", message.get("from"), exc)
