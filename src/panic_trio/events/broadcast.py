"""Lossy fan-out: a publisher that never waits for its subscribers.

A run must never slow down because a screen is slow, so :meth:`Broadcast.publish`
is synchronous and each subscriber has a small bounded buffer. When a
subscriber's buffer is full the item is dropped *for that subscriber only* and
counted in :attr:`Subscription.dropped`; since every event carries the runner's
whole status, a subscriber that lost events can resynchronise from the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Generic, TypeVar

import trio

T = TypeVar("T")
DEFAULT_BUFFER: Final = 64


class Subscription(Generic[T]):
    """What a subscriber reads: an async iterator of items, plus a drop counter."""

    def __init__(self, buffer: int) -> None:
        self._send, self._receive = trio.open_memory_channel[T](buffer)
        self.dropped = 0

    def _offer(self, item: T) -> bool:
        """Deliver without waiting; ``False`` if the subscriber is gone."""
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            self.dropped += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def receive(self) -> T:
        """The next item (waits for one)."""
        return await self._receive.receive()

    def poll(self) -> T | None:
        """The next item if one is already waiting, else ``None`` (never waits)."""
        try:
            return self._receive.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return None

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def _close(self) -> None:
        self._send.close()
        self._receive.close()


class Broadcast(Generic[T]):
    """Publishes items to every current subscriber; never blocks."""

    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        self._buffer = buffer
        self._subscribers: set[Subscription[T]] = set()

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are listening now."""
        return len(self._subscribers)

    def publish(self, item: T) -> None:
        """Offer ``item`` to every subscriber (synchronous, never waits)."""
        for subscription in list(self._subscribers):
            if not subscription._offer(item):
                self._subscribers.discard(subscription)

    @contextmanager
    def subscribe(self, buffer: int | None = None) -> Iterator[Subscription[T]]:
        """Receive items published from now until the block exits."""
        subscription = Subscription[T](self._buffer if buffer is None else buffer)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            subscription._close()
