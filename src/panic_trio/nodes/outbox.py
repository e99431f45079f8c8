"""Messages for the other processes on one ``NOTIFY`` channel: queued at once, sent in batches.

The backplane's events and the relay's screen messages leave a process the
same way: :meth:`Outbox.put` never waits (a bounded queue; when it is full
the message is dropped and counted, lossy like every fan-out), and
:meth:`Outbox.run` sends what has queued up in one transaction on the write
seam, in order, so a burst costs one commit, not one per message. A batch
the database refuses is counted as dropped and logged; the others go on.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from panic_trio.errors import StoreError
from panic_trio.nodes.listener import drain, notify, payloads
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)


class Outbox:
    """One channel's outgoing messages: a bounded queue and its forwarder."""

    def __init__(self, store: Store, channel_name: str, *, queue: int, batch: int) -> None:
        self.dropped = 0  # messages not sent: the queue was full or the send failed
        self._store = store
        self._channel = channel_name
        self._batch = batch
        self._in, self._out = trio.open_memory_channel[dict[str, Any]](queue)

    def put(self, message: dict[str, Any]) -> None:
        """Queue ``message`` (JSON-able) for the other processes; never waits."""
        try:
            self._in.send_nowait(message)
        except trio.WouldBlock:
            self.dropped += 1

    async def run(self) -> None:
        """Send what has queued up, a batch per transaction, until cancelled."""
        async for first in self._out:
            batch = [first, *drain(self._out, self._batch - 1)]
            parts = [part for message in batch for part in payloads(message)]
            try:
                await self._store.write(notify, self._channel, parts)
            except StoreError as exc:
                self.dropped += len(batch)
                logger.warning(
                    "could not send %s messages to the other processes: %s", len(batch), exc
                )
