"""Where events go: one hub per network, one global feed, the latest status of each.

Publishing is synchronous and lossy (see :mod:`.broadcast`), so no publisher
ever waits for a screen. :class:`EventBus` is the one class a multi-process
deployment replaces: a PostgreSQL backplane would publish through
``NOTIFY`` and deliver what it hears to the same hubs and feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from panic_trio.domain import IDLE, Event, RunnerStatus
from panic_trio.events.broadcast import Broadcast, Subscription

FEED_BUFFER: Final = 256


class Publisher(Protocol):
    """The publishing side: what the engine and the archive are given."""

    def publish(self, network_id: int, event: Event) -> None:
        """Deliver ``event`` to the network's watchers and the feed; never waits."""
        ...

    def status(self, network_id: int) -> RunnerStatus:
        """The network's latest published runner status."""
        ...


class EventBus:
    """The events of one process: per-network hubs, the feed, the latest statuses."""

    def __init__(self, feed_buffer: int = FEED_BUFFER) -> None:
        self.feed = Broadcast[Event](buffer=feed_buffer)
        self._hubs: dict[int, Broadcast[Event]] = {}
        self._statuses: dict[int, RunnerStatus] = {}
        self._observers: list[Callable[[int, Event], None]] = []

    @property
    def dropped(self) -> int:
        """Events not carried between processes (a ``Backplane``'s); one process has no others."""
        return 0

    def observe(self, observer: Callable[[int, Event], None]) -> None:
        """Call ``observer`` with every event delivered here, this process's and
        (on a backplane) the other processes', before any watcher sees it."""
        self._observers.append(observer)

    def hub(self, network_id: int) -> Broadcast[Event]:
        """The event hub of one network (created on first use)."""
        hub = self._hubs.get(network_id)
        if hub is None:
            hub = self._hubs[network_id] = Broadcast[Event]()
        return hub

    @contextmanager
    def watch(self, network_id: int) -> Iterator[Subscription[Event]]:
        """Receive the network's events until the block exits (lossy if slow)."""
        with self.hub(network_id).subscribe() as subscription:
            yield subscription

    def publish(self, network_id: int, event: Event) -> None:
        """Offer ``event`` to the network's hub and to the feed; remember its status."""
        for observer in self._observers:
            observer(network_id, event)
        self._statuses[network_id] = event.status
        self.hub(network_id).publish(event)
        self.feed.publish(event)

    def status(self, network_id: int) -> RunnerStatus:
        """The network's latest published runner status (idle if none yet)."""
        return self._statuses.get(network_id, IDLE)

    def statuses(self) -> dict[int, RunnerStatus]:
        """The latest published status of every network heard of."""
        return dict(self._statuses)

    def forget(self, network_id: int) -> None:
        """Drop a deleted network's status (its hub stays for open screens)."""
        self._statuses.pop(network_id, None)
