"""Two installations parts joined by a relay: what one does, the other's screens hear.

(The relay here is a wire in memory that carries JSON as ``NOTIFY`` does;
tests/nodes/test_screens.py runs the real one between serve processes.)
"""

from __future__ import annotations

import json
from typing import Any

import trio

from panic_trio import Panic
from panic_trio.domain import Network
from panic_trio.installations import Boards, Installations
from panic_trio.installations.part import ALL_SCREENS, ScreenRequest


class Wire:
    """One process's relay: the other process hears what it sends, as JSON, never itself."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.other: Installations | None = None
        self.sent: list[dict[str, Any]] = []
        self.dropped = 0

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        assert self.other is not None
        self.other.heard(self.node, json.loads(json.dumps(message)))


def pair(panic: Panic, boards: Boards | None = None) -> tuple[Installations, Installations]:
    wire_a, wire_b = Wire("a"), Wire("b")
    a = Installations(panic.store, boards, relay=wire_a)
    b = Installations(panic.store, relay=wire_b)
    wire_a.other, wire_b.other = b, a
    return a, b


async def test_an_edit_in_one_process_wakes_the_screens_of_the_other(
    panic: Panic, loop_network: Network
) -> None:
    a, b = pair(panic)
    with trio.fail_after(10):
        made = await b.create(loop_network.id, "Gallery")
        woken: list[str] = []
        async with trio.open_nursery() as nursery:

            async def screen(part: Installations, name: str) -> None:
                await part.changed(made.id)
                woken.append(name)

            nursery.start_soon(screen, a, "on a")
            nursery.start_soon(screen, b, "on b")
            await trio.testing.wait_all_tasks_blocked()
            await b.add_watcher(made.id, {"type": "grid", "name": "wall", "rows": 1, "columns": 1})
        assert sorted(woken) == ["on a", "on b"]  # each once: b did not hear itself back

        async with trio.open_nursery() as nursery:
            nursery.start_soon(screen, a, "on a after the network went")
            await trio.testing.wait_all_tasks_blocked()
            b.network_deleted()
        assert woken[-1] == "on a after the network went"


async def test_a_request_in_one_process_reaches_the_screens_of_the_other_once(
    panic: Panic, loop_network: Network
) -> None:
    a, b = pair(panic)
    with trio.fail_after(10):
        wall = {"type": "grid", "name": "wall", "rows": 1, "columns": 1}
        made = await a.create(loop_network.id, "Gallery", [wall])
        heard: dict[str, list[ScreenRequest]] = {}
        async with trio.open_nursery() as nursery:

            async def screens(part: Installations, name: str) -> None:
                heard[name] = await part.screen_requests(made.id)

            nursery.start_soon(screens, a, "a")
            nursery.start_soon(screens, b, "b")
            await trio.testing.wait_all_tasks_blocked()
            await b.ask_screens(made.id, "identify", "wall")
        assert heard == {
            "a": [ScreenRequest("identify", "wall")],
            "b": [ScreenRequest("identify", "wall")],
        }
        async with trio.open_nursery() as nursery:
            nursery.start_soon(screens, a, "a")
            await trio.testing.wait_all_tasks_blocked()
            await b.ask_screens(made.id, "sound")
        assert heard["a"] == [ScreenRequest("sound", ALL_SCREENS)]


async def test_an_edit_in_one_process_reaches_the_board_dispatcher_of_the_other(
    panic: Panic, loop_network: Network
) -> None:
    async def unused(*_: Any) -> Any:
        raise AssertionError("nothing is sent here")

    boards = Boards(panic.store, unused, unused)  # the owner's: a runs the network
    _, b = pair(panic, boards)
    made = await b.create(loop_network.id, "Gallery")
    assert await boards.watchers(loop_network.id) == []  # read, and kept
    board = {"type": "vestaboard", "name": "hall", "stride": 1, "offset": 0,
             "vestaboard_name": "panic_1"}  # fmt: skip
    await b.add_watcher(made.id, board)
    assert [w.name for w in await boards.watchers(loop_network.id)] == ["hall"]  # read again
