"""Events of every process on one PostgreSQL: published here, heard everywhere.

:class:`Backplane` is the ``EventBus`` of a process among several. A publish
reaches this process's watchers at once, as ever, and is queued (bounded,
lossy like every fan-out) for the forwarder, which sends what has queued up
as ``NOTIFY`` messages on one shared channel in one transaction, in order.
A message is small whatever the invocation holds: ids, states and times
only, under ``NOTIFY``'s 8,000 bytes. The other processes hear it on their
one listening connection, read the invocations it names in one query per
batch, and publish the events to their own hubs and feed, so a viewer on any
process sees every network's events in the order the owner made them.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any, Final

import trio

from panic_trio.domain import ACTIVE_STATES, Event, Invocation, RunnerStatus, iso
from panic_trio.errors import StoreError
from panic_trio.events import EventBus
from panic_trio.nodes.listener import channel, drain
from panic_trio.nodes.outbox import Outbox
from panic_trio.store import bulk
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

EVENTS: Final = channel("events", "all")
QUEUE: Final = 4096  # events waiting to be sent or delivered; beyond, they are dropped
BATCH: Final = 200


def compact(node: str, network_id: int, event: Event) -> dict[str, Any]:
    """The event as a small message: ids, states and times, never texts."""
    status = event.status
    invocation = event.invocation
    return {
        "from": node,
        "n": network_id,
        "k": event.kind,
        "i": None if invocation is None else invocation.id,
        "is": None if invocation is None else invocation.state,
        "s": {
            "state": status.state,
            "g": None if status.genesis is None else status.genesis.id,
            "c": None if status.current is None else status.current.id,
            "cs": None if status.current is None else status.current.state,
            "next": iso(status.next_invocation_at),
            "lock": iso(status.lockout_until),
            "err": status.error,
        },
    }


def _as_of(row: Invocation | None, state: str | None) -> Invocation | None:
    """The row as the event saw it: the database may be a step further on."""
    if row is None or state is None or row.state == state:
        return row
    output = None if state in ACTIVE_STATES else row.output
    return dataclasses.replace(row, state=state, output=output)  # type: ignore[arg-type]


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def expand(message: dict[str, Any], rows: dict[int, Invocation]) -> Event | None:
    """The event a :func:`compact` message stands for (``None``: its rows are gone)."""
    s = message["s"]
    status = RunnerStatus(
        state=s["state"],
        genesis=rows.get(s["g"]) if s["g"] is not None else None,
        current=_as_of(rows.get(s["c"]), s["cs"]) if s["c"] is not None else None,
        next_invocation_at=_time(s["next"]),
        lockout_until=_time(s["lock"]),
        error=s["err"],
    )
    invocation = None
    if message["i"] is not None:
        invocation = _as_of(rows.get(message["i"]), message["is"])
        if invocation is None:
            return None
    return Event(message["k"], invocation, status)


class Backplane(EventBus):
    """The event bus of one process among several on a PostgreSQL database."""

    def __init__(self, store: Store, node: str) -> None:
        super().__init__()
        self.node = node
        self._store = store
        self._outbox = Outbox(store, EVENTS, queue=QUEUE, batch=BATCH)
        self._undelivered = 0  # heard, but the queue was full or their rows unreadable
        self._in, self._incoming = trio.open_memory_channel[dict[str, Any]](QUEUE)

    @property
    def dropped(self) -> int:
        """Events not sent to the other processes, or heard from them and not delivered."""
        return self._outbox.dropped + self._undelivered

    def publish(self, network_id: int, event: Event) -> None:
        """Deliver here at once, and queue the event for the other processes."""
        super().publish(network_id, event)
        self._outbox.put(compact(self.node, network_id, event))

    def receive(self, message: dict[str, Any]) -> None:
        """A message on the events channel (from the listener): deliver it soon."""
        if message.get("from") == self.node:
            return  # delivered here when it was published
        try:
            self._in.send_nowait(message)
        except trio.WouldBlock:
            self._undelivered += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The forwarder and the deliverer, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._outbox.run)
            nursery.start_soon(self._deliver)
            task_status.started()

    async def _deliver(self) -> None:
        async for first in self._incoming:
            batch = [first, *drain(self._incoming, BATCH - 1)]
            ids = {
                key
                for m in batch
                for key in (m.get("i"), m["s"].get("g"), m["s"].get("c"))
                if key is not None
            }
            try:
                rows = await self._store.read(bulk.by_ids, sorted(ids))
            except StoreError as exc:
                self._undelivered += len(batch)
                logger.warning("could not read %s events' invocations: %s", len(batch), exc)
                continue
            for message in batch:
                event = expand(message, rows)
                if event is not None:
                    super().publish(int(message["n"]), event)
