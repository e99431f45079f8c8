"""Lossy fan-out: a slow subscriber loses events, never slows the publisher."""

from __future__ import annotations

import trio

from panic_trio.events import Broadcast


async def test_every_subscriber_gets_every_item_while_keeping_up() -> None:
    hub = Broadcast[int](buffer=4)
    with hub.subscribe() as a, hub.subscribe() as b:
        for n in range(3):
            hub.publish(n)
        assert [await a.receive() for _ in range(3)] == [0, 1, 2]
        assert [await b.receive() for _ in range(3)] == [0, 1, 2]
        assert hub.subscriber_count == 2
    assert hub.subscriber_count == 0


async def test_a_slow_subscriber_drops_items_and_the_publisher_never_waits() -> None:
    hub = Broadcast[int](buffer=2)
    with hub.subscribe() as slow, hub.subscribe(buffer=100) as fast:
        with trio.fail_after(1):
            for n in range(10):
                hub.publish(n)  # synchronous: cannot block
        assert slow.dropped == 8
        assert [await slow.receive() for _ in range(2)] == [0, 1]
        assert fast.dropped == 0
        assert [await fast.receive() for _ in range(10)] == list(range(10))


async def test_publishing_after_a_subscriber_left_is_harmless() -> None:
    hub = Broadcast[str]()
    with hub.subscribe():
        pass
    hub.publish("nobody listens")
    assert hub.subscriber_count == 0
