"""The relay's receiving end: others' messages reach the part, its own and unreadable ones do not.

(tests/nodes/test_screens.py runs relays between serve processes on PostgreSQL.)
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from panic_trio import Panic
from panic_trio.nodes import Relay
from panic_trio.nodes.relay import QUEUE


class Part:
    """A relayed part that keeps what it heard and fails on what it cannot read."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def heard(self, node: str, message: dict[str, Any]) -> None:
        int(message["installation"])
        self.messages.append((node, message))

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()


async def test_the_part_hears_other_processes_only_and_an_unreadable_message_is_dropped(
    panic: Panic, caplog: pytest.LogCaptureFixture
) -> None:
    relay = Relay(panic.store, "a")
    part = Part()
    relay.carry(part)
    relay.receive({"kind": "changed", "installation": 3, "from": "b"})
    relay.receive({"kind": "changed", "installation": 4, "from": "a"})  # ours: acted on
    relay.receive({"kind": "changed", "installation": 5})  # nobody's
    relay.receive({"kind": "changed", "installation": "x", "from": "b"})  # never raises
    assert part.messages == [("b", {"kind": "changed", "installation": 3})]
    assert relay.dropped == 1
    assert "could not be read" in caplog.text


async def test_sending_never_waits_and_drops_beyond_the_queue(panic: Panic) -> None:
    relay = Relay(panic.store, "a")  # not running: nothing is sent
    for n in range(QUEUE + 5):
        relay.send({"kind": "changed", "installation": n})
    assert relay.dropped == 5
