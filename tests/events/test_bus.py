"""The event bus: one publish reaches the network's watchers and the feed, and
the bus remembers each network's latest status (the archive's events carry it)."""

from __future__ import annotations

from panic_trio.domain import IDLE, Event, RunnerStatus
from panic_trio.events import EventBus


async def test_a_publish_reaches_the_networks_watchers_and_the_feed_only() -> None:
    bus = EventBus()
    waiting = RunnerStatus(state="waiting")
    with bus.watch(1) as one, bus.watch(2) as two, bus.feed.subscribe() as feed:
        bus.publish(1, Event("status", None, waiting))
        assert await one.receive() == Event("status", None, waiting)
        assert await feed.receive() == Event("status", None, waiting)
        bus.publish(2, Event("status", None, IDLE))
        assert await two.receive() == Event("status", None, IDLE)
        assert await feed.receive() == Event("status", None, IDLE)
    assert bus.hub(1).subscriber_count == 0


def test_the_latest_status_of_each_network_until_it_is_forgotten() -> None:
    bus = EventBus()
    assert bus.status(7) == IDLE
    bus.publish(7, Event("status", None, RunnerStatus(state="invoking")))
    bus.publish(7, Event("status", None, RunnerStatus(state="waiting")))
    assert bus.status(7).state == "waiting"
    assert bus.status(8) == IDLE
    bus.forget(7)
    assert bus.status(7) == IDLE
