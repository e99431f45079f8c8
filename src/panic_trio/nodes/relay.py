"""A part's small messages to the other processes: ``NOTIFY`` on one shared channel.

The installations part says what its screens must hear wherever they are
connected (an installation changed, an operator's request, viewer counts;
see :mod:`panic_trio.installations.relay`). :meth:`Relay.send` queues a
message (bounded, lossy like every fan-out); the forwarder sends what has
queued up in one transaction, in order, on :data:`SCREENS`. Every process
hears it on its one listening connection and hands it to the part it
relays for, except the process that sent it, which acted on it already. A
message the part cannot read is logged and dropped: it never stops the
listener.
"""

from __future__ import annotations

import logging
from typing import Any, Final, Protocol

import trio

from panic_trio.nodes.listener import channel
from panic_trio.nodes.outbox import Outbox
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

SCREENS: Final = channel("screens", "all")
QUEUE: Final = 1024  # messages waiting to be sent; beyond, they are dropped
BATCH: Final = 100


class Relayed(Protocol):
    """The part a :class:`Relay` carries messages for (``Installations``)."""

    def heard(self, node: str, message: dict[str, Any]) -> None:
        """A message another process's part sent."""
        ...

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        """The part's own work while it is relayed (its announcements), until cancelled."""
        ...


class Relay:
    """One part's messages between the processes on one PostgreSQL database."""

    channel = SCREENS

    def __init__(self, store: Store, node: str) -> None:
        self.node = node
        self._outbox = Outbox(store, SCREENS, queue=QUEUE, batch=BATCH)
        self._unreadable = 0
        self._part: Relayed | None = None

    @property
    def dropped(self) -> int:
        """Messages lost: a full queue, a failed send, an unreadable one heard."""
        return self._outbox.dropped + self._unreadable

    def carry(self, part: Relayed) -> None:
        """Hand what others say to ``part``, and run its work beside the forwarder."""
        self._part = part

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for every other process; never waits (full: dropped)."""
        self._outbox.put({**message, "from": self.node})

    def receive(self, message: dict[str, Any]) -> None:
        """A message on the channel (from the listener): the part hears it, unless it is ours."""
        sender = message.pop("from", None)
        if sender is None or sender == self.node or self._part is None:
            return
        try:
            self._part.heard(str(sender), message)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._unreadable += 1
            logger.warning("ignored a message from %s that could not be read: %r", sender, exc)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The forwarder, and the part's own work, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._outbox.run)
            if self._part is not None:
                await nursery.start(self._part.run)
            task_status.started()
