"""Viewer counts summed over processes: announced, corrected, forgotten when a process is silent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import trio
import trio.testing

from panic_trio.installations import Installation, Viewers
from panic_trio.installations.viewers import ANNOUNCE_SECONDS, FORGET_SECONDS, VIEWERS
from panic_trio.installations.watchers import check_watcher

WALL = check_watcher({"type": "grid", "name": "wall", "rows": 2, "columns": 2})
SPOT = check_watcher({"type": "single", "name": "spot", "stride": 1, "offset": 0})
NOW = datetime(2026, 12, 1, tzinfo=UTC)
GALLERY = Installation(7, 1, "Gallery", (WALL, SPOT), NOW, NOW)


class Sent:
    """A relay that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.dropped = 0

    def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def counts(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {"kind": VIEWERS, "counts": {"7": dict(pairs)}}


async def test_a_local_change_is_said_at_once_and_counts_add_up_over_processes() -> None:
    sent = Sent()
    viewers = Viewers(sent)
    with viewers.track(7, "wall"):
        assert sent.messages == [{"kind": VIEWERS, "counts": {7: {"wall": 1}}}]
        viewers.heard("b", counts(("wall", 2), ("spot", 1)))
        viewers.heard("c", counts(("wall", 1)))
        assert viewers.counts(GALLERY) == {"wall": 4, "spot": 1}
        viewers.heard("b", counts(("wall", 0)))  # b's wall closed: only that installation
        assert viewers.counts(GALLERY) == {"wall": 2, "spot": 0}
    assert sent.messages[-1] == {"kind": VIEWERS, "counts": {7: {}}}  # none here any more
    assert viewers.counts(GALLERY) == {"wall": 1, "spot": 0}
    viewers.heard("c", {"kind": VIEWERS, "all": True, "counts": {}})  # c's whole list: nothing
    assert viewers.counts(GALLERY) == {"wall": 0, "spot": 0}


async def test_a_silent_process_is_forgotten_and_the_pages_are_told(
    autojump_clock: trio.testing.MockClock,
) -> None:
    viewers = Viewers(Sent())
    told: list[float] = []

    async def page() -> None:
        async for _ in viewers.changes():
            told.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        await nursery.start(viewers.run)
        nursery.start_soon(page)
        await trio.sleep(1)
        viewers.heard("b", counts(("wall", 3)))
        heard_at = trio.current_time()
        await trio.sleep(FORGET_SECONDS - 1)
        viewers.heard("b", {**counts(("wall", 3)), "all": True})  # said again: still there
        again_at = trio.current_time()
        assert told == [0.0, heard_at]  # the same counts said again change nothing
        await trio.sleep(FORGET_SECONDS - 0.01)
        assert viewers.counts(GALLERY) == {"wall": 3, "spot": 0}
        await trio.sleep(0.02)  # b said nothing for FORGET_SECONDS
        assert viewers.counts(GALLERY) == {"wall": 0, "spot": 0}
        assert told[-1] == again_at + FORGET_SECONDS  # the page is told at that very moment
        nursery.cancel_scope.cancel()


async def test_a_process_announces_its_nonzero_counts_every_few_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sent = Sent()
    viewers = Viewers(sent)
    async with trio.open_nursery() as nursery:
        await nursery.start(viewers.run)
        await trio.sleep(3 * ANNOUNCE_SECONDS)
        assert sent.messages == []  # nothing to say: nothing said
        with viewers.track(7, "spot"), viewers.track(8, "tv"):
            sent.messages.clear()
            await trio.sleep(2 * ANNOUNCE_SECONDS + 0.01)
        whole = {"kind": VIEWERS, "all": True, "counts": {7: {"spot": 1}, 8: {"tv": 1}}}
        assert sent.messages[:2] == [whole, whole]
        nursery.cancel_scope.cancel()


async def test_without_a_relay_counts_are_this_process_s_alone() -> None:
    viewers = Viewers()
    with viewers.track(7, "wall"), viewers.track(7, "wall"):
        assert viewers.counts(GALLERY) == {"wall": 2, "spot": 0}
    assert viewers.counts(GALLERY) == {"wall": 0, "spot": 0}


async def test_after_the_last_viewer_leaves_one_whole_empty_list_is_announced(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sent = Sent()
    viewers = Viewers(sent)
    async with trio.open_nursery() as nursery:
        await nursery.start(viewers.run)
        with viewers.track(7, "wall"):
            pass  # came and went between two announcements
        sent.messages.clear()
        await trio.sleep(3 * ANNOUNCE_SECONDS)
        # a process restarted under a dead one's name replaces what it said
        assert sent.messages == [{"kind": VIEWERS, "all": True, "counts": {}}]
        nursery.cancel_scope.cancel()
